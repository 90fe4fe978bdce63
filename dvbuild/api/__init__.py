"""What runs inside a notebook: `Datapackage` (datapackage.py) and `read_sql`/`connect`
(sources.py). `from dvbuild import Datapackage` imports them lazily."""
