"""Small JSON state files, each write atomic: a local path or an S3 URI.

Read and written through jeeves.storage.Storage: a local file is written to
a temporary file in the same directory, synced, then renamed over the old
one (jeeves.files.write_atomically); an S3 object is replaced by one PUT.
Either way a reader sees the old state or the new one, never half of it.
"""

import json

from jeeves.batch import split_s3_uri
from jeeves.storage import Storage, s3_client


def is_s3(uri):
    return uri.startswith(("s3://", "s3a://", "s3n://"))


class JSONState:
    """A JSON object stored at ``location`` (a local path or s3://bucket/key;
    ``s3``: the boto3 client for it, by default the process's own)."""

    def __init__(self, location, s3=None):
        self.location = location
        self.s3 = s3

    def _storage(self):
        if is_s3(self.location):
            split_s3_uri(self.location)  # ValueError for s3:// without a bucket
            return Storage(s3=self.s3 if self.s3 is not None else s3_client())
        return Storage()

    def load(self):
        """The stored object, or {} when there is none yet."""
        try:
            body = self._storage().read_bytes(self.location)
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
        self._storage().write_bytes(self.location, data, content_type="application/json")
