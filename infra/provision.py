"""The project's S3 buckets, created and configured on any S3 endpoint (AWS, MinIO, moto).

`lakehouse infra provision` makes every bucket the settings name (the lake's, the landing
zone's, and any given with --bucket) exist with the same configuration: versioning, default
encryption, a public access block, and lifecycle rules for the lake's zones. Each setting is read
first and written only when it differs, then read back and compared with what was asked, so a
second run changes nothing and a setting that did not take is never reported as done.

S3-compatible stores implement less than AWS. What an endpoint refuses by its error code as not
implemented (MinIO: the public access block; SSE-S3 without a KMS; transitions to storage
classes it has no tier for; the incomplete-upload rule) is reported as "not supported by this
endpoint" instead of failing the rest. There, a second run writes the lifecycle rules it can
keep again, unchanged, because which ones it refuses is only known by trying.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from flows.settings import Settings

Status = Literal["created", "already set", "changed", "not supported"]
ArchiveClass = Literal["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]

RULE_PREFIX = "lakehouse-"  # lifecycle rules with other IDs belong to someone else: kept
INFREQUENT_AFTER_DAYS = 30
ARCHIVE_AFTER_DAYS = 90
NONCURRENT_EXPIRES_DAYS = 30
INCOMPLETE_UPLOADS_DAYS = 7
PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)

# Error codes by which an endpoint says it does not implement a request (decided by code,
# never by the endpoint's name): AWS and MinIO answer NotImplemented (HTTP 501); MinIO answers
# a transition to a storage class it has no tier for with one of the two others.
NOT_IMPLEMENTED = {"NotImplemented"}
# MinIO drops the AbortIncompleteMultipartUpload action it does not implement, then refuses the
# rule left without an action: InvalidArgument (InvalidRequest, MalformedXML in older releases).
# AWS would use the same codes for a rule it finds invalid: the line names the code either way.
LIFECYCLE_NOT_SUPPORTED = NOT_IMPLEMENTED | {
    "TransitionStorageClassNotFoundError",
    "InvalidStorageClass",
    "InvalidArgument",
    "InvalidRequest",
    "MalformedXML",
}
CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
}
BUCKET_NAME = re.compile(r"(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

log = logging.getLogger("lakehouse")


class ProvisionError(RuntimeError):
    """Provisioning cannot go on; the message is one line naming the bucket or the setting."""


class NothingToProvision(ProvisionError):
    """No bucket to provision: both roots are local folders and no --bucket was given."""


@dataclass(frozen=True)
class BucketPlan:
    """A bucket and, when the lake lives in it, the lake's prefix in it ('' at the root)."""

    name: str
    lake_prefix: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One setting of one bucket after provisioning: what was done, and what it is now."""

    bucket: str
    setting: str
    status: Status
    detail: str = ""

    def line(self, width: int = 0) -> str:
        """Columns: bucket (padded to `width`), setting, status, detail."""
        text = f"{self.bucket:<{width}}  {self.setting:<29}  {self.status:<13}  {self.detail}"
        return text.rstrip()


@dataclass(frozen=True)
class Request:
    """What every bucket is given; the defaults are the issue's (#14) policy."""

    kms_key_id: str | None = None
    archive_class: ArchiveClass = "GLACIER_IR"
    # 0: quarantined records are kept. The lake's manifests record every quarantine partition
    # and `lakehouse verify` / prepare-lake treat a vanished one as lost (and ingest its days
    # again), so expiring them is a choice for a lake whose verify is not run on old days
    # (docs/decisions/014).
    quarantine_expiry_days: int = 0


def _split(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def plan_buckets(settings: Settings, extra: list[str] | None = None) -> list[BucketPlan]:
    """The buckets to provision, each once: the lake's, the landing zone's, then `extra`."""
    plans: dict[str, BucketPlan] = {}
    if settings.storage.is_s3_lake:
        name, prefix = _split(settings.storage.lake_uri)
        plans[name] = BucketPlan(name, prefix)
    if settings.sources.landing_uri.startswith("s3://"):
        name, _ = _split(settings.sources.landing_uri)
        plans.setdefault(name, BucketPlan(name))
    for name in extra or []:
        if not BUCKET_NAME.fullmatch(name):
            raise ProvisionError(
                f"--bucket {name}: not a valid S3 bucket name (3 to 63 characters: lowercase "
                "letters, digits, dots and hyphens, starting and ending with a letter or digit)"
            )
        plans.setdefault(name, BucketPlan(name))
    if not plans:
        raise NothingToProvision(
            f"nothing to provision: LAKEHOUSE_LAKE_ROOT ({settings.storage.lake_root}) and "
            f"LAKEHOUSE_LANDING_ROOT ({settings.sources.landing_root}) are local folders; "
            "set one to "
            "s3://bucket/prefix or name a bucket with --bucket"
        )
    return list(plans.values())


def provision(
    settings: Settings,
    buckets: list[BucketPlan],
    request: Request | None = None,
    client: Any = None,
) -> Iterator[Outcome]:
    """Provision each bucket, yielding each setting's outcome as soon as it is verified.

    `client`: a boto3 S3 client; default: the one the LAKEHOUSE_S3_* settings describe.
    """
    from flows.lake.storage import s3_client

    request = request or Request()
    client = client or s3_client(settings)
    endpoint = settings.s3.endpoint_url or f"AWS S3 ({settings.s3.region})"
    for plan in buckets:
        try:
            yield _bucket(client, plan.name, settings.s3.region)
            yield _versioning(client, plan.name)
            yield _encryption(client, plan.name, request.kms_key_id)
            yield _public_access_block(client, plan.name)
            yield from _lifecycle(client, plan, request)
            _check_writes(client, plan.name)
        except ProvisionError:
            raise
        except Exception as error:
            raise _explained(error, plan.name, endpoint) from error


def _explained(error: Exception, bucket: str, endpoint: str) -> ProvisionError:
    """One line for what stops provisioning: the endpoint, the credentials, or the bucket."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return ProvisionError(
            f"cannot reach the S3 endpoint {endpoint}: {error}; check LAKEHOUSE_S3_ENDPOINT_URL "
            "and that the server is running"
        )
    if isinstance(error, NoCredentialsError):
        return ProvisionError(
            "no S3 credentials: set LAKEHOUSE_S3_ACCESS_KEY_ID and LAKEHOUSE_S3_SECRET_ACCESS_KEY "
            "or configure the AWS default credential chain"
        )
    if isinstance(error, ClientError):
        code = _code(error)
        if code in CREDENTIAL_CODES:
            return ProvisionError(
                f"{endpoint} refused the credentials ({code}): check LAKEHOUSE_S3_ACCESS_KEY_ID "
                "and LAKEHOUSE_S3_SECRET_ACCESS_KEY"
            )
        if code in {"AccessDenied", "403"}:
            return ProvisionError(
                f"{endpoint} denied access to bucket {bucket} ({code}): the credentials lack "
                "the permission, or the bucket belongs to another account"
            )
        message = error.response.get("Error", {}).get("Message", "")
        return ProvisionError(f"bucket {bucket} on {endpoint}: {code}: {message}")
    return ProvisionError(f"bucket {bucket} on {endpoint}: {error}")


def _code(error: Exception) -> str:
    response = getattr(error, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    if response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 501:
        return "NotImplemented"
    return code


PROBE_KEY = "_lakehouse_provision_probe"


def _check_writes(client: Any, bucket: str) -> None:
    """One object written and removed under the settings just applied.

    An endpoint can take a setting it cannot serve: SeaweedFS accepts default encryption
    (AES256) without an SSE-S3 key, then fails every PutObject with InternalError.
    """
    from botocore.exceptions import ClientError

    try:
        answer = client.put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"")
    except ClientError as error:
        raise ProvisionError(
            f"bucket {bucket} took its settings but refuses new objects ({_code(error)}): the "
            "endpoint cannot serve one of them, most likely default encryption (SeaweedFS needs "
            "an SSE-S3 key: WEED_S3_SSE_KEY or s3.sse.key in security.toml); see its log"
        ) from error
    version = answer.get("VersionId")
    client.delete_object(
        Bucket=bucket, Key=PROBE_KEY, **({"VersionId": version} if version else {})
    )


def _not_supported(bucket: str, setting: str, error: Exception) -> Outcome:
    log.info("%s %s: not supported by this endpoint (%s)", bucket, setting, error)
    return Outcome(bucket, setting, "not supported", detail=f"by this endpoint ({_code(error)})")


def _bucket(client: Any, bucket: str, region: str) -> Outcome:
    """Create the bucket unless it exists; an existing one must be in the configured region.

    HEAD first: in us-east-1 AWS answers a create of a bucket one already owns with 200, so the
    create's answer cannot tell "created" from "was there".
    """
    from botocore.exceptions import ClientError

    try:
        head = client.head_bucket(Bucket=bucket)
    except ClientError as error:
        if _code(error) not in {"404", "NoSuchBucket"}:
            raise
    else:
        found = head.get("BucketRegion") or region
        if found != region:
            raise ProvisionError(
                f"bucket {bucket} is in {found}, but LAKEHOUSE_S3_REGION is {region}: set the "
                "region the bucket is in, or name another bucket"
            )
        return Outcome(bucket, "bucket", "already set", detail=f"exists in {found}")
    options: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 is the default, and refuses to be named
        options["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**options)
    except ClientError as error:
        if _code(error) == "BucketAlreadyOwnedByYou":  # made by someone else in between
            return Outcome(bucket, "bucket", "already set", detail=f"exists in {region}")
        if _code(error) == "BucketAlreadyExists":
            raise ProvisionError(
                f"bucket {bucket} belongs to another account (bucket names are global on "
                "AWS): choose another name"
            ) from error
        raise
    client.head_bucket(Bucket=bucket)  # read back: it exists now
    return Outcome(bucket, "bucket", "created", detail=f"in {region}")


def _versioning(client: Any, bucket: str) -> Outcome:
    """Versioning on: a partition replaced or deleted by mistake can be restored."""
    from botocore.exceptions import ClientError

    setting = "versioning"
    try:
        before = client.get_bucket_versioning(Bucket=bucket).get("Status")
        if before == "Enabled":
            return Outcome(bucket, setting, "already set", detail="Enabled")
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    except ClientError as error:
        if _code(error) in NOT_IMPLEMENTED:
            return _not_supported(bucket, setting, error)
        raise
    after = client.get_bucket_versioning(Bucket=bucket).get("Status")
    _check(bucket, setting, "Enabled", found=after)
    if before is None:
        return Outcome(bucket, setting, "created", detail="Enabled")
    return Outcome(bucket, setting, "changed", detail=f"{before} → Enabled")


def _encryption_rule(kms_key_id: str | None) -> dict[str, Any]:
    if kms_key_id:
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id}
        # a bucket key: one KMS request per bucket and period instead of one per object
        return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}
    return {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}


def _encryption_of(rules: list[dict[str, Any]]) -> tuple[str, str | None, bool] | None:
    """The default encryption as compared: algorithm, KMS key, bucket key (KMS only)."""
    if not rules:
        return None
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    algorithm = default.get("SSEAlgorithm", "")
    if algorithm == "AES256":
        return (algorithm, None, False)
    return (algorithm, default.get("KMSMasterKeyID"), bool(rules[0].get("BucketKeyEnabled")))


def _describe_encryption(value: tuple[str, str | None, bool] | None) -> str:
    if value is None:
        return "none"
    algorithm, key, bucket_key = value
    if key is None:
        return algorithm
    return f"{algorithm} key {key}" + (", bucket key" if bucket_key else "")


def _encryption(client: Any, bucket: str, kms_key_id: str | None) -> Outcome:
    """Default encryption of every new object: SSE-S3 (AES256), or SSE-KMS with a given key."""
    from botocore.exceptions import ClientError

    setting = "encryption"
    rule = _encryption_rule(kms_key_id)
    wanted = _encryption_of([rule])
    try:
        before = _encryption_of(_read_encryption(client, bucket))
        if before == wanted:
            return Outcome(bucket, setting, "already set", detail=_describe_encryption(wanted))
        client.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}
        )
    except ClientError as error:
        if _code(error) in NOT_IMPLEMENTED:
            return _not_supported(bucket, setting, error)
        raise
    after = _encryption_of(_read_encryption(client, bucket))
    _check(bucket, setting, _describe_encryption(wanted), found=_describe_encryption(after))
    if before is None:
        return Outcome(bucket, setting, "created", detail=_describe_encryption(wanted))
    change = f"{_describe_encryption(before)} → {_describe_encryption(wanted)}"
    return Outcome(bucket, setting, "changed", detail=change)


def _read_encryption(client: Any, bucket: str) -> list[dict[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        answer = client.get_bucket_encryption(Bucket=bucket)
    except ClientError as error:
        if _code(error) == "ServerSideEncryptionConfigurationNotFoundError":
            return []
        raise
    return answer.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])


def _public_access_block(client: Any, bucket: str) -> Outcome:
    """All four flags: no ACL or bucket policy can ever make the lake public."""
    from botocore.exceptions import ClientError

    setting = "public access block"
    wanted = dict.fromkeys(PUBLIC_ACCESS_FLAGS, True)
    try:
        before = _read_public_access_block(client, bucket)
        if before == wanted:
            return Outcome(bucket, setting, "already set", detail="all four flags")
        client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=wanted)
    except ClientError as error:
        if _code(error) in NOT_IMPLEMENTED:
            return _not_supported(bucket, setting, error)
        raise
    after = _read_public_access_block(client, bucket)
    _check(bucket, setting, wanted, found=after)
    if not before:
        return Outcome(bucket, setting, "created", detail="all four flags")
    off = ", ".join(flag for flag in PUBLIC_ACCESS_FLAGS if not before.get(flag))
    return Outcome(bucket, setting, "changed", detail=f"turned on {off}")


def _read_public_access_block(client: Any, bucket: str) -> dict[str, bool]:
    from botocore.exceptions import ClientError

    try:
        answer = client.get_public_access_block(Bucket=bucket)
    except ClientError as error:
        if _code(error) == "NoSuchPublicAccessBlockConfiguration":
            return {}
        raise
    configuration = answer.get("PublicAccessBlockConfiguration", {})
    return {flag: bool(configuration.get(flag)) for flag in PUBLIC_ACCESS_FLAGS}


@dataclass(frozen=True)
class LifecycleRule:
    """One of the project's lifecycle rules: its line's name, and the rule as S3 takes it."""

    setting: str
    rule: dict[str, Any]
    detail: str


def lifecycle_rules(plan: BucketPlan, request: Request) -> list[LifecycleRule]:
    """The rules a bucket gets: the lake's zones where the lake lives, versions and uploads
    everywhere.

    Raw partitions are read again by every full refresh, `lakehouse verify` and late records'
    merges, so the archive class defaults to Glacier Instant Retrieval: a plain GET still reads
    it. Flexible Retrieval (GLACIER) and DEEP_ARCHIVE need a restore first; choose them only for
    a lake whose old partitions are never read.
    """
    from flows.lake.partitions import (
        ZONES,  # the lake's prefixes: raw/<source>/…, quarantine/<source>/…
    )

    raw_zone, quarantine_zone = ZONES
    archive_class = request.archive_class
    rules = []
    if plan.lake_prefix is not None:
        base = f"{plan.lake_prefix}/" if plan.lake_prefix else ""
        raw, quarantine = f"{base}{raw_zone}/", f"{base}{quarantine_zone}/"
        tiering = {
            "ID": f"{RULE_PREFIX}raw-tiering",
            "Status": "Enabled",
            "Filter": {"Prefix": raw},
            "Transitions": [
                {"Days": INFREQUENT_AFTER_DAYS, "StorageClass": "STANDARD_IA"},
                {"Days": ARCHIVE_AFTER_DAYS, "StorageClass": archive_class},
            ],
        }
        rules.append(
            LifecycleRule(
                "lifecycle raw tiering",
                tiering,
                f"{raw}: STANDARD_IA after {INFREQUENT_AFTER_DAYS} d, {archive_class} after "
                f"{ARCHIVE_AFTER_DAYS} d",
            )
        )
    if plan.lake_prefix is not None and request.quarantine_expiry_days:
        days = request.quarantine_expiry_days
        expiry = {
            "ID": f"{RULE_PREFIX}quarantine-expiry",
            "Status": "Enabled",
            "Filter": {"Prefix": quarantine},
            "Expiration": {"Days": days},
        }
        rules.append(
            LifecycleRule(
                "lifecycle quarantine expiry", expiry, f"{quarantine}: expires after {days} d"
            )
        )
    versions = {
        "ID": f"{RULE_PREFIX}noncurrent-versions",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_EXPIRES_DAYS},
        # the delete markers left once a key's last old version is gone
        "Expiration": {"ExpiredObjectDeleteMarker": True},
    }
    rules.append(
        LifecycleRule(
            "lifecycle noncurrent versions",
            versions,
            f"expire {NONCURRENT_EXPIRES_DAYS} d after being replaced; lone delete markers removed",
        )
    )
    uploads = {
        "ID": f"{RULE_PREFIX}incomplete-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": INCOMPLETE_UPLOADS_DAYS},
    }
    rules.append(
        LifecycleRule(
            "lifecycle incomplete uploads",
            uploads,
            f"aborted {INCOMPLETE_UPLOADS_DAYS} d after they start",
        )
    )
    return rules


def canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as compared: the fields the project sets, in one spelling.

    Endpoints add defaults on the way back (an empty filter as Filter: {Prefix: ''} or as a
    top-level Prefix, transitions in any order); two rules that mean the same compare equal.
    """
    filter_ = rule.get("Filter") or {}
    prefix = filter_.get("Prefix", filter_.get("And", {}).get("Prefix", rule.get("Prefix", "")))
    canonical: dict[str, Any] = {
        "ID": rule.get("ID"),
        "Status": rule.get("Status"),
        "Prefix": prefix or "",
    }
    transitions = rule.get("Transitions") or []
    if transitions:
        canonical["Transitions"] = sorted(
            (item.get("Days"), item.get("StorageClass")) for item in transitions
        )
    expiration = {key: value for key, value in (rule.get("Expiration") or {}).items() if value}
    if expiration:
        canonical["Expiration"] = expiration
    for field in ("NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        if rule.get(field):
            canonical[field] = dict(rule[field])
    return canonical


def _lifecycle(client: Any, plan: BucketPlan, request: Request) -> Iterator[Outcome]:
    """Put the project's lifecycle rules next to any others, only when they differ.

    A whole configuration is one PUT. When the endpoint refuses it by a not-implemented code,
    the rules go on one at a time, so one rule it cannot take (MinIO: a transition without a
    tier) does not cost the others; a rule it accepts but does not keep is found on reading back.
    """
    from botocore.exceptions import ClientError

    bucket = plan.name
    wanted = lifecycle_rules(plan, request)
    try:
        current = _read_lifecycle(client, bucket)
    except ClientError as error:
        if _code(error) in NOT_IMPLEMENTED:
            for item in wanted:
                yield _not_supported(bucket, item.setting, error)
            return
        raise
    foreign = [rule for rule in current if not str(rule.get("ID", "")).startswith(RULE_PREFIX)]
    before = {rule.get("ID"): canonical_rule(rule) for rule in current}
    if all(before.get(item.rule["ID"]) == canonical_rule(item.rule) for item in wanted) and len(
        before
    ) == len(foreign) + len(wanted):
        for item in wanted:
            yield Outcome(bucket, item.setting, "already set", detail=item.detail)
        return
    refused: dict[str, str] = {}
    try:
        _put_lifecycle(client, bucket, foreign + [item.rule for item in wanted])
    except ClientError as error:
        if _code(error) not in LIFECYCLE_NOT_SUPPORTED:
            raise
        log.info("%s lifecycle refused whole (%s): one rule at a time", bucket, error)
        accepted: list[dict[str, Any]] = []
        for item in wanted:
            try:
                _put_lifecycle(client, bucket, foreign + accepted + [item.rule])
            except ClientError as rule_error:
                if _code(rule_error) not in LIFECYCLE_NOT_SUPPORTED:
                    raise
                refused[item.rule["ID"]] = _code(rule_error)
                log.info("%s %s refused: %s", bucket, item.setting, rule_error)
            else:
                accepted.append(item.rule)
    after = {rule.get("ID"): canonical_rule(rule) for rule in _read_lifecycle(client, bucket)}
    kept = {rule.get("ID"): canonical_rule(rule) for rule in foreign}
    lost = {name for name in kept if after.get(name) != kept[name]}
    if lost:
        raise ProvisionError(
            f"bucket {bucket}: lifecycle rules not of this project changed on writing: "
            f"{', '.join(sorted(lost))}"
        )
    for item in wanted:
        name = item.rule["ID"]
        if name in refused:
            yield Outcome(
                bucket, item.setting, "not supported", detail=f"by this endpoint ({refused[name]})"
            )
        elif after.get(name) != canonical_rule(item.rule):
            log.info("%s %s reads back as %s", bucket, item.setting, after.get(name))
            yield Outcome(
                bucket,
                item.setting,
                "not supported",
                detail="by this endpoint (accepted, not kept)",
            )
        elif before.get(name) == after[name]:
            yield Outcome(bucket, item.setting, "already set", detail=item.detail)
        elif name in before:
            yield Outcome(bucket, item.setting, "changed", detail=item.detail)
        else:
            yield Outcome(bucket, item.setting, "created", detail=item.detail)


def _read_lifecycle(client: Any, bucket: str) -> list[dict[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        return client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as error:
        if _code(error) == "NoSuchLifecycleConfiguration":
            return []
        raise


def _put_lifecycle(client: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": rules}
    )


def _check(bucket: str, setting: str, wanted: object, found: object) -> None:
    """A setting read back must be what was written; else provisioning failed."""
    if found != wanted:
        raise ProvisionError(
            f"bucket {bucket}: {setting} reads back as {found!r} after writing {wanted!r}"
        )


def summary(outcomes: list[Outcome], endpoint: str) -> str:
    """The last line: how many settings of how many buckets each status."""
    buckets = len({outcome.bucket for outcome in outcomes})
    counts = {status: 0 for status in ("created", "changed", "already set", "not supported")}
    for outcome in outcomes:
        counts[outcome.status] += 1
    what = "bucket" if buckets == 1 else "buckets"
    if not counts["created"] and not counts["changed"]:
        head = f"nothing changed: {buckets} {what} on {endpoint} already as asked"
    else:
        head = f"{buckets} {what} on {endpoint} provisioned and read back"
    parts = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    return f"{head} ({parts})"
