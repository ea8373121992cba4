"""Small JSON state files, each write atomic: a local path or an S3 URI.

A local file is written to a temporary file in the same directory, synced,
then renamed over the old one; an S3 object is replaced by one PUT. Either
way a reader sees the old state or the new one, never half of it.
"""

import json

from jeeves.batch import split_s3_uri
from jeeves.files import write_atomically


def is_s3(uri):
    return uri.startswith(("s3://", "s3a://", "s3n://"))


class JSONState:
    """A JSON object stored at ``location`` (a local path or s3://bucket/key)."""

    def __init__(self, location, s3=None):
        self.location = location
        self.s3 = s3

    def load(self):
        """The stored object, or {} when there is none yet."""
        if is_s3(self.location):
            bucket, key = _bucket_key(self.location)
            try:
                body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except self.s3.exceptions.NoSuchKey:
                return {}
        else:
            try:
                with open(self.location, "rb") as handle:
                    body = handle.read()
            except FileNotFoundError:
                return {}
        try:
            value = json.loads(body)
        except ValueError as error:
            raise ValueError("state file %s is not JSON: %s" % (self.location, error)) from None
        if not isinstance(value, dict):
            raise ValueError("state file %s does not hold a JSON object" % self.location)
        return value

    def save(self, value):
        data = (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8")
        if is_s3(self.location):
            bucket, key = _bucket_key(self.location)
            self.s3.put_object(Bucket=bucket, Key=key, Body=data,
                               ContentType="application/json")
        else:
            write_atomically(self.location, data)


def _bucket_key(uri):
    bucket, prefix = split_s3_uri(uri)
    return bucket, prefix.rstrip("/")
