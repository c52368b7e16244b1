"""GCP names and region: predictable, within the cloud's rules, for any valid spec."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from constructs_lib import PlatformSpec
from constructs_lib.naming import gcp_names, gcp_region


def test_region_prefers_gcp_region_then_a_gcp_spec_region_then_europe_west1():
    assert gcp_region(PlatformSpec(name="demo", gcp={"region": "us-east4"})) == "us-east4"
    assert gcp_region(PlatformSpec(name="demo", region="asia-northeast1")) == "asia-northeast1"
    assert gcp_region(PlatformSpec(name="demo", region="eu-west-1")) == "europe-west1"
    assert gcp_region(PlatformSpec(name="demo", region="westeurope")) == "europe-west1"


@settings(max_examples=50, deadline=None)
@given(name=st.from_regex(r"[a-z][a-z0-9]{1,10}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)
       .filter(lambda n: 3 <= len(n) <= 24),
       environment=st.sampled_from(["dev", "staging", "prod"]))
def test_every_gcp_name_keeps_the_rules(name, environment):
    names = gcp_names(PlatformSpec(name=name, environment=environment))  # _check raises
    buckets = {names.data_bucket, names.access_log_bucket, names.source_bucket,
               names.state_bucket}
    assert len(buckets) == 4
