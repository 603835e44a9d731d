"""A process on a real pty, and the screen a VT100-style terminal would show for its output.

``PtyProcess`` starts a binary with stdin/stdout on the slave side of a fresh pty (so GNU
readline sees a terminal) and stderr in a file; ``send`` types bytes, ``expect`` waits for a
text on the rendered screen, ``screen_lines`` returns what is visible::

    with PtyProcess([binary, "-monitor", "stdio"], env={"HOME": tmp}) as term:
        term.expect("(qemu) ")
        term.send("info status\\r")
        term.expect("VM status: running")

``Screen`` understands what readline and QEMU's monitor emit: printable text, CR, LF, BS, BEL,
and the CSI sequences for cursor moves (A B C D G H), erase (J K) and insert/delete (@ P);
anything else (modes such as ESC[?2004h) is ignored.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import subprocess
import termios
import time
from types import TracebackType
from typing import Any, List, Mapping, Optional, Sequence, Type

_CSI = re.compile(rb"\x1b\[([0-9;?]*)([@A-Za-z])")


class Screen:
    """A grid of ``rows`` lines that grows downwards (no scrolling off the top)."""

    def __init__(self, columns: int = 200) -> None:
        self.columns = columns
        self.lines: List[List[str]] = [[]]
        self.row = 0
        self.col = 0

    def _line(self) -> List[str]:
        while len(self.lines) <= self.row:
            self.lines.append([])
        line = self.lines[self.row]
        while len(line) < self.col:
            line.append(" ")
        return line

    def _put(self, ch: str) -> None:
        if self.col >= self.columns:
            self.row += 1
            self.col = 0
        line = self._line()
        if self.col < len(line):
            line[self.col] = ch
        else:
            line.append(ch)
        self.col += 1

    def _csi(self, params: str, final: str) -> None:
        if params.startswith("?"):
            return
        numbers = [int(p) if p else 0 for p in params.split(";")] if params else []
        n = numbers[0] if numbers and numbers[0] > 0 else 1
        line = self._line()
        if final == "A":
            self.row = max(0, self.row - n)
        elif final == "B":
            self.row += n
        elif final == "C":
            self.col += n
        elif final == "D":
            self.col = max(0, self.col - n)
        elif final == "G":
            self.col = n - 1
        elif final == "H":
            self.row = (numbers[0] - 1) if numbers and numbers[0] > 0 else 0
            self.col = (numbers[1] - 1) if len(numbers) > 1 and numbers[1] > 0 else 0
        elif final == "K":
            mode = numbers[0] if numbers else 0
            if mode == 0:
                del line[self.col :]
            elif mode == 2:
                line.clear()
        elif final == "J":
            mode = numbers[0] if numbers else 0
            if mode == 2:
                self.lines = [[]]
            elif mode == 0:
                del line[self.col :]
                del self.lines[self.row + 1 :]
        elif final == "P":
            del line[self.col : self.col + n]
        elif final == "@":
            for _ in range(n):
                line.insert(self.col, " ")

    def feed(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            b = data[i]
            if b == 0x1B:
                m = _CSI.match(data, i)
                if m:
                    self._csi(m.group(1).decode(), m.group(2).decode())
                    i = m.end()
                    continue
                i += 2  # a two-byte escape (ESC =, ESC >, ...)
                continue
            if b == 0x0D:
                self.col = 0
            elif b == 0x0A:
                self.row += 1
            elif b == 0x08:
                self.col = max(0, self.col - 1)
            elif b == 0x07:
                pass
            elif b >= 0x20:
                self._put(chr(b))
            i += 1

    def text_lines(self) -> List[str]:
        return ["".join(line) for line in self.lines]


class PtyProcess:
    """``argv`` on a pty; see the module docstring. Not thread-safe."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        stderr_path: Optional[str] = None,
    ) -> None:
        self.master, self.slave = os.openpty()
        self.initial_termios: List[Any] = termios.tcgetattr(self.slave)
        full_env = {**os.environ, "TERM": "xterm", "INPUTRC": "/dev/null", **(env or {})}
        self._stderr = open(stderr_path or os.devnull, "wb")
        self.raw = b""
        self.screen = Screen()
        self._seen = 0  # length of the rendered screen text already consumed by expect()
        self.process = subprocess.Popen(
            list(argv),
            stdin=self.slave,
            stdout=self.slave,
            stderr=self._stderr,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            # The pty becomes the controlling terminal, so ^C raises SIGINT as in a shell.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )

    def __enter__(self) -> "PtyProcess":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self._stderr.close()

    def send(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def pump(self, timeout: float) -> None:
        """Reads whatever the process writes for up to ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(0.0, left))
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.raw += data
                self.screen.feed(data)
            if left <= 0:
                return

    def text(self) -> str:
        return "\n".join(self.screen.text_lines())

    def expect(self, needle: str, timeout: float = 10.0) -> str:
        """Waits until ``needle`` appears on the screen, at or after the line where the last
        match ended; returns the screen text up to and including it."""
        end = time.monotonic() + timeout
        while True:
            text = self.text()
            # Lines are redrawn in place: search from the start of the line where the last
            # match ended.
            at = text.find(needle, text.rfind("\n", 0, self._seen) + 1)
            if at >= 0:
                seen = text[: at + len(needle)]
                self._seen = at + len(needle)
                return seen
            if time.monotonic() >= end:
                raise AssertionError(f"{needle!r} not on the screen after {timeout} s:\n{text}")
            self.pump(0.05)

    def quiet(self, duration: float = 0.3) -> str:
        """Reads for ``duration`` and returns the screen text."""
        self.pump(duration)
        return self.text()

    def wait(self, timeout: float = 10.0) -> int:
        end = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < end:
            self.pump(0.05)
        return self.process.wait(timeout=max(0.0, end - time.monotonic()) + 0.1)

    def termios_now(self) -> List[Any]:
        return termios.tcgetattr(self.slave)
