"""Prometheus metrics, in a registry per app (several apps may share a test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                   240.0, 480.0, 720.0, 900.0, float("inf"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("synth_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=self.registry)
        # Up to the longest request a deployment allows (900 s): a p99 alert at 80% of the
        # timeout needs buckets there (the client's default ones stop at 10 s).
        self.latency = Histogram("synth_http_request_seconds", "Request latency.",
                                 ["method", "route"], registry=self.registry,
                                 buckets=LATENCY_BUCKETS)
        self.jobs = Counter("synth_jobs_total", "Jobs finished, by kind and outcome.",
                            ["kind", "status"], registry=self.registry)
        self.rows = Counter("synth_rows_generated_total", "Synthetic rows generated.",
                            ["synthesizer"], registry=self.registry)
        self.rate_limited = Counter("synth_rate_limited_total", "Requests refused by the "
                                    "rate limiter.", registry=self.registry)
        self.auth_failures = Counter("synth_auth_failures_total", "Requests with an unknown, "
                                     "malformed or revoked API key.", registry=self.registry)
        self.jobs_running = Gauge("synth_jobs_running", "Jobs running in this process.",
                                  registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
