"""`foodrec serve` refuses bad input with one line and exit code 2 (before binding a port)."""

from __future__ import annotations

import json
import socket

import pytest

from foodrec.cli import main


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --recommender"),
        (["--recommender", "area-popularity"], "give --store"),
        (["--recommender", "no-such-baseline", "--store", "{store}"], "unknown recommender"),
        (["--recommender", "area-popularity", "--store", "{root}/nowhere"], "does not exist"),
        (["--ab", "{root}/missing.toml", "--store", "{store}"], "does not exist"),
        (["--recommender", "area-popularity", "--ab", "{root}/ab.json", "--store", "{store}"], "not one of the A/B"),
        (["--recommender", "{model}", "--events", "mysql://x/y"], "use a file path"),
        (["--recommender", "{model}", "--host", "no.such.host.invalid"], "--host"),
    ],
)
def test_bad_serve_options_are_one_line_errors(capsys, city, args, message):
    (city["root"] / "ab.json").write_text(
        json.dumps(
            {"salt": "s", "variants": {"a": "customer-history", "b": str(city["model"])}, "split": {"a": 0.5, "b": 0.5}}
        )
    )
    filled = [a.format(store=city["store"], root=city["root"], model=city["model"]) for a in args]
    assert main(["serve", *filled]) == 2
    assert message in one_line_error(capsys)


def test_a_port_in_use_is_a_one_line_error(capsys, city, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(
            ["serve", "--recommender", str(city["model"]), "--port", str(port), "--events", str(tmp_path / "e.sqlite")]
        )
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_line_error(capsys)


def test_the_listening_socket_is_tcp_so_responses_are_not_delayed():
    # asyncio sets TCP_NODELAY on accepted connections only for proto IPPROTO_TCP; with proto 0 every
    # response waited ~40 ms for a delayed ACK (Nagle), which capped the server at 22 req/s per connection.
    from foodrec.serving.command import _listen

    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
