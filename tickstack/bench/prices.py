"""The AWS list prices the cost model uses: us-east-1, each with the page that publishes it.

One place for every price; `tickstack.bench.cost` reads them from here and nowhere else.
"""

from __future__ import annotations

REGION = "us-east-1"
CURRENCY = "USD"
AS_PUBLISHED = "January 2025"
TAKEN = "2026-11-25"
HOW = (
    "AWS's us-east-1 list prices as published on January 2025, written down on 2026-11-25 from the "
    "pricing pages named with each price, as the author knows them: not fetched that day (the bench "
    "machine has no network), so check the pages before quoting a figure. Free tiers are ignored."
)

# meter -> the service it is billed under, USD per `per` units, what a unit is, where it is published.
METERS: dict[str, dict] = {
    "lambda.requests": {
        "service": "lambda", "usd": 0.20, "per": 1_000_000, "unit": "invocations",
        "source": "https://aws.amazon.com/lambda/pricing/"},
    "lambda.gb_seconds": {
        "service": "lambda", "usd": 0.0000166667, "per": 1, "unit": "GB-seconds of duration (x86_64)",
        "source": "https://aws.amazon.com/lambda/pricing/"},
    "kinesis.stream_hours": {
        "service": "kinesis", "usd": 0.04, "per": 1, "unit": "on-demand stream-hours",
        "source": "https://aws.amazon.com/kinesis/data-streams/pricing/"},
    "kinesis.ingested_gb": {
        "service": "kinesis", "usd": 0.08, "per": 1, "unit": "GB ingested on demand (each record rounded up to 1 KB)",
        "source": "https://aws.amazon.com/kinesis/data-streams/pricing/"},
    "kinesis.retrieved_gb": {
        "service": "kinesis", "usd": 0.04, "per": 1, "unit": "GB retrieved on demand (each record rounded up to 1 KB)",
        "source": "https://aws.amazon.com/kinesis/data-streams/pricing/"},
    "kinesis.shard_hours": {
        "service": "kinesis", "usd": 0.015, "per": 1, "unit": "provisioned shard-hours",
        "source": "https://aws.amazon.com/kinesis/data-streams/pricing/"},
    "kinesis.put_payload_units": {
        "service": "kinesis", "usd": 0.014, "per": 1_000_000, "unit": "provisioned PUT payload units (25 KB each)",
        "source": "https://aws.amazon.com/kinesis/data-streams/pricing/"},
    "dynamodb.write_request_units": {
        "service": "dynamodb", "usd": 0.625, "per": 1_000_000, "unit": "on-demand write request units",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/"},
    "dynamodb.read_request_units": {
        "service": "dynamodb", "usd": 0.125, "per": 1_000_000, "unit": "on-demand read request units",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/"},
    "dynamodb.write_capacity_unit_hours": {
        "service": "dynamodb", "usd": 0.00065, "per": 1, "unit": "provisioned write capacity unit-hours",
        "source": "https://aws.amazon.com/dynamodb/pricing/provisioned/"},
    "dynamodb.read_capacity_unit_hours": {
        "service": "dynamodb", "usd": 0.00013, "per": 1, "unit": "provisioned read capacity unit-hours",
        "source": "https://aws.amazon.com/dynamodb/pricing/provisioned/"},
    "dynamodb.streams_read_request_units": {
        "service": "dynamodb", "usd": 0.02, "per": 100_000,
        "unit": "DynamoDB Streams read request units (those of Lambda triggers are free)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/"},
    "dynamodb.storage_gb_months": {
        "service": "dynamodb", "usd": 0.25, "per": 1, "unit": "GB-months stored (Standard table class)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/"},
    "dynamodb.pitr_gb_months": {
        "service": "dynamodb", "usd": 0.20, "per": 1,
        "unit": "GB-months of continuous backups (point-in-time recovery)",
        "source": "https://aws.amazon.com/dynamodb/pricing/on-demand/"},
    "s3.put_requests": {
        "service": "s3", "usd": 0.005, "per": 1_000, "unit": "PUT, COPY, POST and LIST requests (S3 Standard)",
        "source": "https://aws.amazon.com/s3/pricing/"},
    "s3.get_requests": {
        "service": "s3", "usd": 0.0004, "per": 1_000, "unit": "GET, SELECT and other requests (S3 Standard)",
        "source": "https://aws.amazon.com/s3/pricing/"},
    "s3.storage_gb_months": {
        "service": "s3", "usd": 0.023, "per": 1, "unit": "GB-months stored (S3 Standard, first 50 TB)",
        "source": "https://aws.amazon.com/s3/pricing/"},
    "sns.publish_requests": {
        "service": "sns", "usd": 0.50, "per": 1_000_000,
        "unit": "publish requests (each 64 KB chunk); deliveries to SQS free",
        "source": "https://aws.amazon.com/sns/pricing/"},
    "sqs.requests": {
        "service": "sqs", "usd": 0.40, "per": 1_000_000, "unit": "standard queue requests",
        "source": "https://aws.amazon.com/sqs/pricing/"},
    "logs.ingested_gb": {
        "service": "cloudwatch", "usd": 0.50, "per": 1, "unit": "GB of log events ingested (standard log class)",
        "source": "https://aws.amazon.com/cloudwatch/pricing/"},
    "cloudwatch.api_requests": {
        "service": "cloudwatch", "usd": 0.01, "per": 1_000, "unit": "PutMetricData and other metric API requests",
        "source": "https://aws.amazon.com/cloudwatch/pricing/"},
    "xray.traces_recorded": {
        "service": "xray", "usd": 5.00, "per": 1_000_000, "unit": "traces recorded",
        "source": "https://aws.amazon.com/xray/pricing/"},
}


def usd_per_unit(meter: str) -> float:
    price = METERS[meter]
    return price["usd"] / price["per"]
