"""Admin reload of a bad model folder: 409 with a one-line reason, never a 500; the old model keeps serving."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from fastapi.testclient import TestClient

from foodrec.serving.app import create_app
from foodrec.serving.state import ServiceState

TOKEN = "reload-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def client(city, tmp_path):
    state = ServiceState(recommender=str(city["model"]), store=city["store"])
    with TestClient(create_app(state, tmp_path / "events.sqlite", admin_token=TOKEN)) as c:
        yield c


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def _first_file(folder):
    return folder / next(iter(_manifest(folder)["files"]))


def _changed_byte(folder):
    with _first_file(folder).open("ab") as handle:
        handle.write(b"\0")


def _truncated_with_matching_checksum(folder):
    file = _first_file(folder)
    data = file.read_bytes()[:16]
    file.write_bytes(data)
    manifest = _manifest(folder)
    manifest["files"][file.name] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _manifest_is(value):
    return lambda folder: (folder / "manifest.json").write_text(json.dumps(value))


def _class_is(name):
    return lambda folder: (folder / "manifest.json").write_text(json.dumps({**_manifest(folder), "class": name}))


BREAKERS = {
    "changed byte": (_changed_byte, "does not match its checksum"),
    "truncated, checksum fixed": (_truncated_with_matching_checksum, "cannot"),
    "missing file": (lambda f: _first_file(f).unlink(), "is missing"),
    "manifest []": (_manifest_is([]), "a JSON object is expected"),
    "manifest null": (_manifest_is(None), "a JSON object is expected"),
    "manifest garbage": (lambda f: (f / "manifest.json").write_bytes(b"\xff{"), "unreadable manifest"),
    "no manifest": (lambda f: (f / "manifest.json").unlink(), "not a saved recommender"),
    "not a recommender": (_class_is("foodrec.errors.InputError"), "not a recommender class"),
    "abstract class": (_class_is("foodrec.recommenders.base.Recommender"), "not a recommender class"),
    "unknown class": (_class_is("foodrec.nope.Model"), "unknown recommender class"),
    "outside foodrec": (_class_is("subprocess.Popen"), "outside foodrec"),
    "no checksums": (lambda f: _manifest_is({k: v for k, v in _manifest(f).items() if k != "files"})(f), "no file"),
    "empty folder": (lambda f: [p.unlink() for p in f.iterdir()], "not a saved recommender"),
}


@pytest.mark.parametrize("case", list(BREAKERS))
def test_a_bad_model_folder_is_409_with_a_reason_and_the_old_model_keeps_serving(client, city, tmp_path, case):
    breaker, reason = BREAKERS[case]
    folder = tmp_path / "bad-model"
    shutil.copytree(city["model"], folder)
    breaker(folder)
    before = client.get("/v1/recommendations", params={"customer_id": "c01"}).json()
    r = client.post("/v1/admin/reload", json={"variants": {"default": str(folder)}}, headers=AUTH)
    assert r.status_code == 409, r.text
    detail = r.json()["detail"]
    assert detail.startswith("reload failed, still serving the previous models:") and reason in detail, detail
    assert "\n" not in detail and "Traceback" not in detail
    after = client.get("/v1/recommendations", params={"customer_id": "c01"}).json()
    assert after["model_version"] == before["model_version"] and after["items"] == before["items"]


def test_an_unexpected_failure_while_reloading_is_still_409(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(client.app.state.service.state, "reload", broken)
    r = client.post("/v1/admin/reload", json={}, headers=AUTH)
    assert r.status_code == 409 and "RuntimeError: disk on fire second line" in r.json()["detail"]
