"""S3 for tests: moto's server mode on a loopback port (real HTTP, so presigned URLs can be used as a browser would),
the signature check of a presigned request that S3 makes (moto accepts any signature), and the lifecycle rules of
template.yaml's attachments bucket, matched against an object as S3 would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from samtranslator.yaml_helper import yaml_parse

from tests.support.server import free_port
from tests.support.template import TEMPLATE

REGION = "us-east-1"
KEY_ID = SECRET = "testing"


@contextmanager
def moto_s3(bucket: str) -> Iterator[Any]:
    """A client of a moto server on 127.0.0.1 with `bucket` created; its presigned URLs point at that server."""
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client(
            "s3",
            region_name=REGION,
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        client.create_bucket(Bucket=bucket)
        yield client
    finally:
        server.stop()


def attachments_lifecycle_rules() -> list[dict[str, Any]]:
    bucket = yaml_parse(TEMPLATE.read_text())["Resources"]["AttachmentsBucket"]
    rules: list[dict[str, Any]] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    return rules


def expires(rule: dict[str, Any], key: str, tags: dict[str, str]) -> bool:
    """Whether an enabled expiration rule (CloudFormation's shape) applies to the object `key` with `tags`."""
    if rule.get("Status") != "Enabled" or "ExpirationInDays" not in rule:
        return False
    wanted = {tag["Key"]: tag["Value"] for tag in rule.get("TagFilters", [])}
    return key.startswith(rule.get("Prefix", "")) and wanted.items() <= tags.items()


def signature_matches(url: str, method: str, headers: dict[str, str]) -> bool:
    """Whether a request sent to the presigned `url` with `headers` carries the signature S3 would compute for it
    (SigV4, query string auth, unsigned payload): a signed header sent with another value fails."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(query)
    _key_id, _date, region, service, _end = given["X-Amz-Credential"].split("/")
    sent = {name.lower(): value for name, value in headers.items()} | {"host": parts.netloc}
    signed = given["X-Amz-SignedHeaders"].split(";")
    request = AWSRequest(
        method=method,
        url=urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"]))),
        headers={name: sent[name] for name in signed if name in sent},
    )
    request.context["timestamp"] = given["X-Amz-Date"]
    auth = S3SigV4QueryAuth(Credentials(KEY_ID, SECRET), service, region, expires=int(given["X-Amz-Expires"]))
    signature: str = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    return signature == given["X-Amz-Signature"]


def attachments_cors_rule(origins: list[str]) -> dict[str, Any]:
    """template.yaml's CORS rule of the attachments bucket in the S3 API's shape, with `origins` for the parameter."""
    bucket = yaml_parse(TEMPLATE.read_text())["Resources"]["AttachmentsBucket"]
    [rule] = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    return {
        "AllowedOrigins": origins,
        "AllowedMethods": rule["AllowedMethods"],
        "AllowedHeaders": rule["AllowedHeaders"],
        "MaxAgeSeconds": rule["MaxAge"],
    }
