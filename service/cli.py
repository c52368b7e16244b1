"""`synthctl`: run the service locally and drive any deployment of it.

    synthctl keys create --scope admin --data-dir DIR     # bootstrap: prints a key once
    synthctl serve --host 127.0.0.1 --port 8000 --data-dir DIR
    synthctl train data.csv --synthesizer gaussian_copula  # upload + train, with progress
    synthctl generate MODEL_ID --rows 1000 --output out.csv
    synthctl report MODEL_ID
    synthctl manifests platform.yaml -o deploy/            # Kubernetes objects as YAML

Remote commands talk to `--endpoint` (default http://127.0.0.1:8000, or
$SYNTH_ENDPOINT) with the key in $SYNTH_API_KEY (or `--api-key-env OTHER_VAR`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["app", "main"]

app = typer.Typer(help="Synthdata service: serve locally, train, generate, report, keys.",
                  no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="Issue, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console(stderr=True)

_ENDPOINT = typer.Option(None, "--endpoint", help="Service URL (default $SYNTH_ENDPOINT or "
                         "http://127.0.0.1:8000).")
_KEY_ENV = typer.Option("SYNTH_API_KEY", "--api-key-env",
                        help="Environment variable holding the API key.")
_DATA_DIR = typer.Option(None, "--data-dir", help="Directory of the embedded default (local "
                         "files, SQLite, pepper). The runtime contract's variables "
                         "(SYNTH_METADATA_URL, SYNTH_RATE_LIMIT_URL, ...) still apply and win.")


def _settings(data_dir: Path | None):
    """The runtime contract from the environment; `--data-dir` only moves the embedded
    default's directory (`SYNTH_DATA_DIR`), it never hides a configured backend."""
    from .settings import DATA_DIR, Settings

    env = dict(os.environ)
    if data_dir is not None:
        env[DATA_DIR] = str(data_dir)
    return Settings.from_env(env)


def _redacted(url: str) -> str:
    """A backend URL for a log line: any password replaced."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url  # as given: urlunsplit would drop the empty authority of sqlite:///path
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _client(endpoint: str | None, key_env: str):
    from .client import SynthClient

    key = os.environ.get(key_env)
    if not key:
        console.print(f"[red]set ${key_env} to an API key[/red] (synthctl keys create ...)")
        raise typer.Exit(2)
    url = endpoint or os.environ.get("SYNTH_ENDPOINT", "http://127.0.0.1:8000")
    return SynthClient(url, key)


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


# Keys: direct access to the metadata store (bootstrap) or over the API.

@keys_app.command("create")
def keys_create(scope: str = typer.Option("admin", help="admin, write or read"),
                name: str = typer.Option("", help="A label for the key."),
                owner: str = typer.Option("default", help="Owner the key's data belongs to."),
                data_dir: Path | None = _DATA_DIR,
                endpoint: str | None = _ENDPOINT, key_env: str = _KEY_ENV,
                remote: bool = typer.Option(False, "--remote",
                                            help="Create through the API with an admin key.")):
    """Create a key and print it once (stdout); nothing else can show it again."""
    try:
        if remote:
            client = _client(endpoint, key_env)
            created = client.request("POST", "/v1/keys",
                                     json={"scope": scope, "name": name, "owner": owner})
            key_id, secret = created["id"], created["key"]
        else:
            from .core import open_key_manager

            issued = open_key_manager(_settings(data_dir)).issue(scope=scope, name=name,
                                                                  owner=owner)
            key_id, secret = issued.record.id, issued.secret
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    console.print(f"created {scope} key {key_id}; store it now, it is not shown again")
    typer.echo(secret)


@keys_app.command("list")
def keys_list(data_dir: Path | None = _DATA_DIR):
    """List keys in a local store (ids, scopes, owners; never secrets)."""
    from .core import open_key_manager

    for record in open_key_manager(_settings(data_dir)).list():
        state = f"revoked {record.revoked_at}" if record.revoked_at else "active"
        typer.echo(f"{record.id}\t{record.scope}\t{record.owner}\t{record.name}\t{state}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, data_dir: Path | None = _DATA_DIR):
    """Revoke a key in a local store."""
    from .core import open_key_manager

    if not open_key_manager(_settings(data_dir)).revoke(key_id):
        _fail(ValueError(f"no active key {key_id}"))
    console.print(f"revoked {key_id}")


@app.command()
def serve(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000),
          data_dir: Path | None = _DATA_DIR,
          log_level: str = typer.Option("info")):
    """Run the service with uvicorn (embedded default in --data-dir)."""
    import uvicorn

    from .app import create_app

    settings = _settings(data_dir)
    console.print(f"serving on http://{host}:{port}: storage {_redacted(settings.storage_url)}, "
                  f"metadata {_redacted(settings.metadata_url)}, rate limits "
                  f"{_redacted(settings.rate_limit_url) or 'in this process'}, jobs "
                  f"{settings.jobs_url}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


def _bytes_progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TimeElapsedColumn(), console=console)


def _wait(client, job_id: str, label: str) -> dict:
    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TextColumn("{task.fields[msg]}"),
                  TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(label, total=1.0, msg="")
        job = client.wait_job(job_id, on_progress=lambda j: bar.update(
            task, completed=j["progress"], msg=j["message"][:40]))
    if job["status"] != "succeeded":
        _fail(RuntimeError(f"job {job_id} {job['status']}: {job.get('error')}"))
    return job


@app.command()
def train(data: Path = typer.Argument(..., exists=True, dir_okay=False),
          synthesizer: str = typer.Option("gaussian_copula"),
          parameters: str = typer.Option("{}", help="JSON object of synthesizer parameters."),
          name: str = typer.Option(""),
          endpoint: str | None = _ENDPOINT, key_env: str = _KEY_ENV):
    """Upload a table and train a synthesizer on it; prints the model id."""
    client = _client(endpoint, key_env)
    try:
        with _bytes_progress() as bar:
            task = bar.add_task(f"upload {data.name}", total=data.stat().st_size)
            dataset = client.upload(data, name=name, on_progress=lambda done, total:
                                    bar.update(task, completed=done))
        console.print(f"dataset {dataset['id']}: {dataset['n_rows']} rows")
        model = client.request("POST", "/v1/models", json={
            "dataset_id": dataset["id"], "synthesizer": synthesizer,
            "parameters": json.loads(parameters), "name": name})
        _wait(client, model["job_id"], f"train {synthesizer}")
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    typer.echo(model["id"])


@app.command()
def generate(model_id: str, rows: int = typer.Option(1000, "--rows", "-n"),
             output: Path = typer.Option(..., "--output", "-o"),
             seed: int | None = typer.Option(None), fmt: str = typer.Option(
                 "", "--format", help="csv, json, parquet, jsonl (default: from --output)"),
             conditions: str = typer.Option("", help="JSON object of fixed column values."),
             endpoint: str | None = _ENDPOINT, key_env: str = _KEY_ENV):
    """Generate rows into a file (streamed, or through a stored file for big results)."""
    client = _client(endpoint, key_env)
    fmt = fmt or (output.suffix.lstrip(".") or "csv")
    body = {"num_rows": rows, "seed": seed, "format": fmt, "delivery": "link",
            "conditions": json.loads(conditions) if conditions else None}
    try:
        sample = client.request("POST", f"/v1/models/{model_id}/samples", json=body)
        _wait(client, sample["job_id"], f"generate {rows} rows")
        sample = client.request("GET", f"/v1/samples/{sample['id']}")
        with _bytes_progress() as bar:
            task = bar.add_task(f"download {output.name}", total=sample["size_bytes"])
            client.download(sample["download_url"], output,
                            on_progress=lambda done, _t: bar.update(task, completed=done))
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    console.print(f"wrote {rows} rows to {output} (seed {sample['seed']})")


@app.command()
def report(model_id: str, version: int | None = typer.Option(None),
           endpoint: str | None = _ENDPOINT, key_env: str = _KEY_ENV):
    """Score a model against its dataset; prints the quality report as JSON."""
    client = _client(endpoint, key_env)
    try:
        created = client.request("POST", f"/v1/models/{model_id}/reports",
                                 json={"version": version} if version else {})
        _wait(client, created["job_id"], "report")
        result = client.request("GET", f"/v1/models/{model_id}/reports/{created['id']}")
    except Exception as exc:  # noqa: BLE001
        _fail(exc)
    console.print(f"quality {result['quality']['score']:.3f}, diagnostic "
                  f"{result['diagnostic']['score']:.3f}")
    typer.echo(json.dumps({"id": result["id"], "quality": result["quality"]["score"],
                           "diagnostic": result["diagnostic"]["score"],
                           "properties": result["quality"]["properties"]}))


@app.command()
def manifests(specs: list[Path] = typer.Argument(..., exists=True, dir_okay=False,
                                                 help="Platform spec files (.yaml/.json)."),
              output: Path = typer.Option(..., "--output", "-o", file_okay=False,
                                          help="Directory to write <stack>/ into.")):
    """Write the Kubernetes platform of each spec as plain YAML for kubectl / GitOps: the
    objects its Terraform stack applies (and Helm values for the on-prem dependencies)."""
    try:
        from constructs_lib import PlatformSpec
        from constructs_lib.kubernetes.manifests import write_manifests

        for spec_file in specs:
            directory = write_manifests(PlatformSpec.from_file(spec_file), output)
            console.print(f"{spec_file}: wrote {directory}")
            typer.echo(str(directory / "manifests.yaml"))
    except Exception as exc:  # noqa: BLE001 - spec errors name the field and the fix
        _fail(exc)


def main() -> None:
    app(prog_name="synthctl")


if __name__ == "__main__":
    sys.exit(main())
