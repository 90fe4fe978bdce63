"""Validate: the gate every later stage relies on.

    packages   `validate()`: every problem of every datapackage.json and dvbuild.yaml, one pass
    fields     dvbuild's own fields (schedule, secrets, job, docker, ...), rules from their owners
    reads      `reads` across packages: names that exist, no self-reads, no cycles
    spec       the Data Package spec's fast path (frictionless only where it is needed)
    positions  JSON pointer → line and column in the source text
    data       resource data against its schema (`--data`, and after a notebook run)
    schedule   cron expressions and time zones: check, describe in words, next runs
    yamlio     YAML read safely: no aliases, no duplicate keys, JSON types only, bounded size
"""
