"""Attachments in an S3 bucket: the browser uploads with a presigned PUT, the functions read, tag and delete.

An upload is tagged `attachment=pending` by the PUT itself (the tag is a signed header of the URL, so a client cannot
leave it out); the bucket's lifecycle rule (template.yaml, `AttachmentsBucket`) expires objects with that tag after
a day, so a file that never reached a message does not stay. `mark_attached` retags the object
`attachment=attached`: one request, no copy, and the key never changes.

boto3 comes with the Lambda runtime and is imported on first use only: most requests never touch a file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from todo_common.files import UploadTarget

TAG_KEY = "attachment"
PENDING = "pending"
ATTACHED = "attached"
UPLOAD_SECONDS = 300
DOWNLOAD_SECONDS = 900
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys a request
MISSING = ("NoSuchKey", "404")


class S3Client(Protocol):
    """The few calls of boto3's S3 client this store makes."""

    def generate_presigned_url(self, ClientMethod: str, Params: dict[str, Any], ExpiresIn: int) -> str: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object_tagging(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_objects(self, **kwargs: Any) -> dict[str, Any]: ...


class DeleteFailedError(RuntimeError):
    """S3 refused to delete some of the objects asked for."""


def s3_client(region: str | None = None) -> S3Client:
    """A client of the function's region whose presigned URLs name the bucket's own host
    (`<bucket>.s3.<region>.amazonaws.com`, in any partition): a host of another region would redirect the browser's
    PUT, and a redirected preflight fails CORS."""
    import boto3
    from botocore.config import Config

    client: S3Client = boto3.client(
        "s3",
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}),
    )
    return client


class S3FileStore:
    def __init__(self, bucket: str, client: S3Client | None = None, *, delete_batch: int = DELETE_BATCH) -> None:
        self.bucket = bucket
        self._client = client
        self.delete_batch = delete_batch

    @property
    def client(self) -> S3Client:
        # Made on first use, not when the app is built: a SnapStart snapshot then holds no credentials.
        if self._client is None:
            self._client = s3_client()
        return self._client

    def upload_target(self, key: str, mime_type: str, size: int) -> UploadTarget:
        tagging = f"{TAG_KEY}={PENDING}"
        url = self.client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ContentType": mime_type,
                "ContentLength": size,
                "Tagging": tagging,
                "IfNoneMatch": "*",
            },
            ExpiresIn=UPLOAD_SECONDS,
        )
        # Content-Length is signed too, but a browser sets it itself (and may not set it by hand). If-None-Match: the
        # link writes a key once, so a file a message carries is never replaced nor tagged pending again (412).
        headers = {"Content-Type": mime_type, "x-amz-tagging": tagging, "If-None-Match": "*"}
        return UploadTarget(url=url, method="PUT", headers=headers)

    def download_url(self, key: str, mime_type: str) -> str:
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentType": mime_type},
            ExpiresIn=DOWNLOAD_SECONDS,
        )

    def read(self, key: str, max_bytes: int) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            found = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{max_bytes}")
        except ClientError as exc:
            if _error_code(exc) in MISSING:
                return None
            if _error_code(exc) == "InvalidRange":  # an empty object: it has no byte 0
                return b""
            raise
        body = found["Body"]
        try:
            data: bytes = body.read(max_bytes + 1)
        finally:
            body.close()
        return data

    def mark_attached(self, key: str) -> None:
        """Nothing happens for a key with no object: the message refers to a file that was never uploaded, which
        `read` reports."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_object_tagging(
                Bucket=self.bucket, Key=key, Tagging={"TagSet": [{"Key": TAG_KEY, "Value": ATTACHED}]}
            )
        except ClientError as exc:
            if _error_code(exc) not in MISSING:
                raise

    def delete(self, keys: Sequence[str]) -> None:
        failed: list[str] = []
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), self.delete_batch):
            batch = unique[start : start + self.delete_batch]
            answer = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
            )
            failed += [f"{error.get('Key')}: {error.get('Code')}" for error in answer.get("Errors", [])]
        if failed:
            raise DeleteFailedError(f"S3 kept {len(failed)} of {len(unique)} objects: {', '.join(failed[:5])}")


def _error_code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
