"""`make example-built` and `make test`'s background build, on a copy of the Makefile in a scratch repository whose
example is built by stand-ins for npm and npx: the stamp that says the example is built from its current sources,
the build's lock and its log."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_NPM = """#!/bin/sh
# npm ci as it is: node_modules removed first, then filled; FAKE_NPM_FAIL stops it half-way (ctrl-C, a network error).
rm -rf node_modules && mkdir -p node_modules/.bin
if [ -n "$FAKE_NPM_FAIL" ]; then exit 130; fi
echo "npm: added 1 package"; if [ -n "$FAKE_NPM_SLOW" ]; then sleep "$FAKE_NPM_SLOW"; fi
touch node_modules/complete
"""
FAKE_NPX = """#!/bin/sh
# npx --no-install tsc|next build: `next build` records which page.tsx it built; FAKE_EDIT_DURING_BUILD edits the page
# while the build runs (the user keeps working while `make test` builds in the background).
shift
case "$1" in
  tsc) exit 0 ;;
  next)
    mkdir -p .next && sha256sum page.tsx | cut -c1-16 > .next/BUILD_ID
    if [ -n "$FAKE_EDIT_DURING_BUILD" ]; then echo "// edited during the build" >> page.tsx; fi ;;
esac
"""


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    example = tmp_path / "examples" / "nextjs"
    (example / "scripts").mkdir(parents=True)
    (example / "scripts" / "widget-fixtures.mjs").write_text("")
    (example / ".gitignore").write_text("node_modules/\n.next/\n")
    (example / "page.tsx").write_text("export default function Page() {}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("npm", FAKE_NPM), ("npx", FAKE_NPX)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def make(scratch: Path, target: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    environ.update(env, PATH=f"{scratch / 'bin'}:{environ['PATH']}")
    return subprocess.run(
        ["make", "--no-print-directory", target], cwd=scratch, env=environ, capture_output=True, text=True, timeout=60
    )


def test_an_edit_made_while_the_example_builds_is_built_next_time(scratch: Path) -> None:
    """A file edited during the build (a minute and a half, in the background of `make test`) is built next time."""
    assert make(scratch, "example-built", FAKE_EDIT_DURING_BUILD="1").returncode == 0
    again = make(scratch, "example-built")
    assert again.returncode == 0, again.stdout + again.stderr
    page = scratch / "examples" / "nextjs" / "page.tsx"
    built = (scratch / "examples" / "nextjs" / ".next" / "BUILD_ID").read_text().strip()
    assert built == hashlib.sha256(page.read_bytes()).hexdigest()[:16], again.stdout


def test_an_interrupted_build_is_not_taken_for_a_finished_one(scratch: Path) -> None:
    """`npm ci` removed node_modules and stopped half-way (ctrl-C, a network error): the next check builds again."""
    assert make(scratch, "example-built").returncode == 0
    assert make(scratch, "example", FAKE_NPM_FAIL="1").returncode != 0
    again = make(scratch, "example-built")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (scratch / "examples" / "nextjs" / "node_modules" / "complete").exists(), again.stdout


def test_a_build_waits_while_a_test_uses_the_built_example(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second `make test` in the same checkout, after an edit of the example, does not run `npm ci` under the app
    a test of the first run is serving from node_modules and .next: its build waits for the lock."""
    from tests.support import example_app

    monkeypatch.setattr(example_app, "ROOT", scratch)
    monkeypatch.setenv("PATH", f"{scratch / 'bin'}:{os.environ['PATH']}")
    with example_app.built_example():  # the first run's test: the example is built; it serves it now
        (scratch / "examples" / "nextjs" / "page.tsx").write_text("export default function Page() { return 1 }\n")
        other = subprocess.run(  # the second run's background build, with a bound on its wait
            [
                "flock",
                "-w",
                "2",
                str(scratch / ".data" / "example-build.lock"),
                "make",
                "--no-print-directory",
                "example-built",
            ],
            cwd=scratch,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode != 0, "the second run rebuilt the example while the first run's test was using it"
        assert (scratch / "examples" / "nextjs" / "node_modules" / "complete").exists()


def test_a_second_make_test_keeps_the_first_builds_log(scratch: Path) -> None:
    """A second `make test` started while the first one's background build runs waits for the lock before it opens
    the log: what the first build printed (its failure, when it fails) is not cut."""
    first = make(scratch, "example-background", FAKE_NPM_SLOW="2")
    assert first.returncode == 0, first.stderr
    time.sleep(1)  # the first build is in npm ci
    assert make(scratch, "example-background").returncode == 0
    lock = scratch / ".data" / "example-build.lock"
    subprocess.run(["flock", str(lock), "true"], check=True, timeout=30)  # both builds are done
    log = (scratch / ".data" / "example-build.log").read_bytes()
    assert b"npm: added 1 package" in log, log


def test_a_build_that_holds_the_lock_too_long_fails_the_tests_with_its_log(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung build (npm waiting on a registry socket, say) fails the example's tests after a bound, with the end of
    the build's log, instead of holding the whole suite until CI's own limit."""
    from tests.support import example_app

    lock = scratch / ".data" / "example-build.lock"
    lock.parent.mkdir(parents=True)
    (scratch / ".data" / "example-build.log").write_text("npm: fetching next-15.tgz\n")
    monkeypatch.setattr(example_app, "ROOT", scratch)
    monkeypatch.setattr(example_app, "BUILD_WAIT_SECONDS", 2)
    hung = subprocess.Popen(["flock", str(lock), "sleep", "30"])
    try:
        time.sleep(0.5)  # the stand-in build holds the lock
        started = time.monotonic()
        with pytest.raises(pytest.fail.Exception, match=r"npm: fetching next-15\.tgz"), example_app.built_example():
            pass
        assert time.monotonic() - started < 10
    finally:
        hung.kill()
        hung.wait()
