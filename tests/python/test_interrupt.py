"""A real Ctrl-C (SIGINT) during a long detect: KeyboardInterrupt promptly, a clean exit, a usable interpreter."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a child process")

# About 40 minutes of the 8-channel example (a second or two of detection),
# detected again and again for up to a minute: however fast the detector
# gets, the interrupt lands while the C++ core is working.
CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fasctrack

    rec = fasctrack.read(fasctrack.example_path())
    x = np.ascontiguousarray(np.tile(rec.data.astype(np.float32), (1, 40)))
    catch, progress = sys.argv[1] == "catch", sys.argv[2] == "progress"
    print("detecting", flush=True)
    start = time.monotonic()
    try:
        while time.monotonic() - start < 60.0:
            fasctrack.detect(x, rec.fs, rec.channels, progress=progress)
    except KeyboardInterrupt:
        if not catch:
            raise
        print(f"interrupted after {time.monotonic() - start:.2f} s", flush=True)
        # the interpreter and the extension still work after the cancelled call
        result = fasctrack.detect(rec, progress=False)
        print(f"detected again: {len(result.events)} events", flush=True)
        sys.exit(0)
    print("finished without interruption", flush=True)
""")


def _interrupt(mode: str, progress: str, tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), mode, progress], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == "detecting"
        time.sleep(1.5)  # well inside the detection
        assert proc.poll() is None, "detection finished before the interrupt"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("progress", ["progress", "quiet"])
def test_ctrl_c_raises_keyboard_interrupt_promptly_and_leaves_python_usable(progress, tmp_path):
    rc, out, err, elapsed = _interrupt("catch", progress, tmp_path)
    assert rc == 0, err
    assert "interrupted after" in out and "finished" not in out
    import fasctrack
    expected = len(fasctrack.detect(fasctrack.read(fasctrack.example_path()), progress=False).events)
    assert f"detected again: {expected} events" in out
    # The core checks for signals every 0.5 s of signal (milliseconds of work);
    # the second, full detection of the 60 s example is included in this bound.
    assert elapsed < 8.0, f"took {elapsed:.1f} s to stop and re-run"
    assert "Traceback" not in err and "terminate called" not in err and "Segmentation" not in err


def test_uncaught_ctrl_c_ends_the_process_like_any_python_keyboardinterrupt(tmp_path):
    rc, out, err, elapsed = _interrupt("raise", "quiet", tmp_path)
    assert "KeyboardInterrupt" in err.splitlines()[-1]
    assert "fasctrack.detect" in err or "_core.detect" in err  # raised from inside the call
    assert rc in (-signal.SIGINT, 1, 130)  # CPython re-raises SIGINT on exit (-2); never a crash signal
    assert elapsed < 5.0
    assert "terminate called" not in err and "Segmentation" not in err
