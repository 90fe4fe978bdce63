"""The pull-request comment and the job summary.

    markdown   report.json records → the comment and summary Markdown (pure, no I/O)
"""
