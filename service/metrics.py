"""Prometheus metrics, in a registry per app (several apps may share a test process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("synth_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("synth_http_request_seconds", "Request latency.",
                                 ["method", "route"], registry=self.registry)
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
