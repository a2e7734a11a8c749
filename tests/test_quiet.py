"""Quiet start-up: ``foodrec train`` and ``foodrec recommend`` print no TensorFlow noise unless FOODREC_DEBUG=1."""

import os
import re
import subprocess
import sys

import pytest

# TensorFlow's start-up and run-time chatter: absl's pre-init banner, glog-style lines (I0000 00:00:... file.cc:N]),
# the oneDNN and CPU-instruction notices, the tf.data memory patch, retracing warnings, Python warnings.
NOISE = re.compile(
    r"absl::InitializeLog|oneDNN|port\.cc|cpu_feature_guard|Memory patch|This TensorFlow binary"
    r"|^[IWEF]\d{4} |retracing|Warning:|tensorflow/|keras/src"
)


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("FOODREC_DEBUG", "TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel")
    }
    return {**env, **extra}


def _foodrec(args: list[str], **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "foodrec.cli", *args], env=_env(**extra), capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from foodrec.data.store import Store
    from foodrec.recommenders.keras.toydata import toy_log

    path = tmp_path_factory.mktemp("store")
    st = Store.create(path)
    st.write_orders_part(toy_log(n_customers=60, n_restaurants=12, days=20, seed=3).orders)
    st.set_meta(timezone="UTC")
    return path


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    model = tmp_path_factory.mktemp("run") / "model"
    done = _foodrec(["train", "--store", str(store), "--out", str(model), "--no-search", "--epochs", "1"])
    assert done.returncode == 0, done.stderr
    return model, done


def _noise(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if NOISE.search(line)]


def test_train_prints_no_tensorflow_lines(trained):
    _, done = trained
    assert "epoch 1" in done.stderr  # the progress lines are still there
    assert not _noise(done.stderr)


@pytest.mark.slow  # a second TensorFlow start-up (~5 s)
def test_recommend_with_a_model_prints_no_tensorflow_lines(trained, store, tmp_path):
    model, _ = trained
    queries = tmp_path / "q.csv"
    queries.write_text("customer_id,area,at\nc1,a0,2026-01-20T12:00Z\nnobody,,2026-01-20T19:00Z\n")
    out = tmp_path / "r.csv"
    done = _foodrec(
        ["recommend", "--recommender", str(model), "--queries", str(queries), "--out", str(out)]
        + ["--store", str(store)]
    )
    assert done.returncode == 0, done.stderr
    assert not _noise(done.stderr)
    assert out.read_text().count("\n") > 2


def test_noise_is_recognised():
    debug_start = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796177422.030410   20446 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1796177326.706049   11752 generator_dataset_op.cc:213] Memory patch applied\n"
    )
    assert len(_noise(debug_start)) == 3
    assert not _noise("  epoch 1: loss 5.8458, val loss 4.8436\n2 queries, 20 recommendations -> r.csv\n")


def _probe(code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=_env(**extra), capture_output=True, text=True, timeout=60)


SETUP = "from foodrec.quiet import quiet_tensorflow; import os, sys; quiet_tensorflow(); "


def test_debug_leaves_tensorflow_as_it_is():
    code = SETUP + "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), len(sys.meta_path))"
    quiet, debug = _probe(code), _probe(code, FOODREC_DEBUG="1")
    assert quiet.stdout.split()[0] == "3" and debug.stdout.split()[0] == "None"
    assert int(quiet.stdout.split()[1]) == int(debug.stdout.split()[1]) + 1  # the one-shot import hook


def test_what_the_user_set_is_kept():
    done = _probe(SETUP + "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])", TF_CPP_MIN_LOG_LEVEL="1")
    assert done.stdout.strip() == "1"


def test_the_import_hook_silences_native_stderr_only_during_the_import():
    code = SETUP + (
        "from foodrec.quiet import native_stderr_silenced\n"
        "with native_stderr_silenced(): os.write(2, b'hidden\\n')\n"
        "os.write(2, b'shown\\n')\n"
        "spec = [f for f in sys.meta_path if type(f).__name__ == '_SilentFirstImport'][0].find_spec('json')\n"
        "assert spec is None  # only tensorflow is wrapped\n"
    )
    done = _probe(code)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "shown\n"
