"""jeeves.storage makes mrjob's S3 file system (and imports boto3) only when
an ``s3://`` URI is used: a run on local files or HDFS never loads boto3."""

import subprocess
import sys

from jeeves.storage import LazyS3Filesystem, Storage

NO_S3 = """
import sys
from jeeves.storage import Storage
storage = Storage({"hadoop_bin": ["hadoop"]})
assert storage.exists(sys.argv[1]) and not storage.exists(sys.argv[1] + "/nothing")
assert storage.fs.can_handle_path("s3://bucket/key") and not storage.fs.s3.made
print(sorted(name for name in ("boto3", "botocore", "mrjob.fs.s3") if name in sys.modules))
"""


def test_a_storage_without_s3_uris_does_not_import_boto3(tmp_path):
    done = subprocess.run([sys.executable, "-c", NO_S3, str(tmp_path)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_s3_file_system_is_made_on_first_use():
    from mrjob.fs.s3 import S3Filesystem

    storage = Storage({"s3_endpoint": "http://127.0.0.1:9", "region": "eu-west-3"})
    lazy = storage.fs.s3
    assert isinstance(lazy, LazyS3Filesystem) and not lazy.made
    assert lazy.can_handle_path("s3://bucket/key") and lazy.can_handle_path("s3a://b/k")
    assert not lazy.can_handle_path("hdfs:///user/x") and not lazy.can_handle_path("/tmp/x")
    assert not lazy.made
    # the composite file system hands s3:// calls to it; then it is mrjob's, with the options
    assert storage.fs.join("s3://bucket/a", "b") == "s3://bucket/a/b"
    assert lazy.made and isinstance(lazy.__dict__["_fs"], S3Filesystem)
    # its other attributes are mrjob's file system's, made with the profile's options
    assert lazy._s3_endpoint_url == "http://127.0.0.1:9" and lazy._s3_region == "eu-west-3"
