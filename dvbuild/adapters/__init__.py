"""The only modules that import a service's client library: docker (the Docker SDK),
github (PyGithub), vault (hvac), notify (a Slack-compatible webhook, stdlib only).
boto3 lives in stores/s3.py and elasticsearch/opensearch in catalogs/elastic.py,
beside the protocols they implement."""
