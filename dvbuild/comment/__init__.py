"""The pull-request comment and the job summary.

    markdown   Reports → the comment and summary Markdown (pure, no I/O)
    target     which PR, and which commit (the event's head, or a fork's pull-request.json)
    previous   each package's last published manifest, to show what changed
    post       `dvbuild comment`: load the reports, compose, write the summary, upsert the comment
"""
