"""pytest fixtures and markers for the functional tests.

Fixtures:
  migemu   factory: ``migemu("-S", qmp_sockets=2) -> Machine`` running $MIGEMU_BUILD/migemu
  qemu     factory: the same for the real qemu-system-x86_64 (skips the test when absent)
  target   parametrised over both binaries (ids ``qemu`` and ``migemu``); its ``check()``
           runs a scenario on the target and, for migemu, on QEMU too and compares them

Markers:
  @pytest.mark.qemu        needs the real QEMU binary; skipped when it is not installed
  @pytest.mark.migemu_qmp  needs migemu to serve QMP; skipped (with the reason) while
                           build/migemu does not create its -qmp socket within 2 s

Every machine a factory launched is shut down after the test, pass or fail (the factory's
teardown), and when a test fails the report shows each machine's command line and stderr.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, Generator, List, Optional, Tuple, TypeVar, cast

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (os.path.join(os.path.dirname(os.path.dirname(_HERE)), "scripts"), _HERE):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from compare import normalise  # noqa: E402
from machine import Machine, migemu_binary, probe_qmp, qemu_binary  # noqa: E402

T = TypeVar("T")
MachineFactory = Callable[..., Machine]

_MACHINES = pytest.StashKey[List[Machine]]()
_probe_result: Optional[Tuple[bool, str]] = None


def pytest_configure(config: pytest.Config) -> None:
    # Always list why tests were skipped: the migemu variants say what migemu still lacks.
    reportchars = str(getattr(config.option, "reportchars", "") or "")
    if "s" not in reportchars and "a" not in reportchars.lower():
        config.option.reportchars = reportchars + "s"
    config.addinivalue_line(
        "markers", "qemu: needs the real qemu-system-x86_64 (skipped when it is absent)"
    )
    config.addinivalue_line(
        "markers", "migemu_qmp: needs build/migemu to serve QMP (skipped until it does)"
    )


def migemu_qmp_status() -> Tuple[bool, str]:
    """Whether build/migemu serves QMP, probed once per session."""
    global _probe_result
    if _probe_result is None:
        _probe_result = probe_qmp(migemu_binary(), wait=2.0)
    return _probe_result


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("qemu") is not None and qemu_binary() is None:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    if item.get_closest_marker("migemu_qmp") is not None:
        serves, reason = migemu_qmp_status()
        if not serves:
            pytest.skip(reason)


# pytest.hookimpl is untyped in Debian's pytest: give the decorator its type.
_F = TypeVar("_F", bound=Callable[..., Any])
_hookwrapper = cast(Callable[[_F], _F], pytest.hookimpl(hookwrapper=True))


@_hookwrapper
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Adds the stderr of every machine of a failed test to its report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for machine in item.stash.get(_MACHINES, []):
        text = machine.stderr_text().strip() or "(empty)"
        argv = " ".join(machine.argv or [machine.binary])
        report.sections.append((f"{machine.name} stderr", f"$ {argv}\n{text}"))


def _factory(request: pytest.FixtureRequest, binary: str, kind: str) -> MachineFactory:
    machines = request.node.stash.setdefault(_MACHINES, [])

    def launch(*args: str, **kwargs: Any) -> Machine:
        kwargs.setdefault("name", f"{kind}{len(machines)}")
        machine = Machine(binary, args, **kwargs)
        machines.append(machine)
        return machine.launch()

    return launch


def _shutdown_all(request: pytest.FixtureRequest) -> None:
    for machine in request.node.stash.get(_MACHINES, []):
        machine.shutdown()


@pytest.fixture
def migemu(request: pytest.FixtureRequest) -> Generator[MachineFactory, None, None]:
    """Factory launching $MIGEMU_BUILD/migemu: ``migemu(*args, **Machine_kwargs)``."""
    binary = migemu_binary()
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} does not exist (build it: ninja -C build, or set MIGEMU_BUILD)")
    yield _factory(request, binary, "migemu")
    _shutdown_all(request)


@pytest.fixture
def qemu(request: pytest.FixtureRequest) -> Generator[MachineFactory, None, None]:
    """Factory launching the real qemu-system-x86_64; skips the test when it is absent."""
    binary = qemu_binary()
    if binary is None:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    yield _factory(request, binary, "qemu")
    _shutdown_all(request)


class Target:
    """The binary under test in a test parametrised over QEMU and migemu.

    ``launch(*args, **kw)`` starts one machine of the target. ``check(scenario, *args, **kw)``
    runs ``scenario(machine)`` on a fresh target machine and returns its result; when the
    target is migemu and QEMU is installed it also runs the scenario on a fresh QEMU with the
    same arguments and asserts both results are equal after compare.normalise (timestamps and
    version strings aside). Scenarios should return every response they saw, so the
    comparison covers more than the test's own asserts.
    """

    def __init__(
        self, kind: str, launch: MachineFactory, reference: Optional[MachineFactory]
    ) -> None:
        self.kind = kind
        self.launch = launch
        self.reference = reference

    def check(self, scenario: Callable[[Machine], T], *args: str, **kwargs: Any) -> T:
        result = self._run(self.launch, scenario, args, kwargs)
        if self.reference is not None:
            expected = self._run(self.reference, scenario, args, kwargs)
            assert normalise(result) == normalise(expected), f"{self.kind} differs from QEMU"
        return result

    @staticmethod
    def _run(
        launch: MachineFactory,
        scenario: Callable[[Machine], T],
        args: Tuple[str, ...],
        kwargs: Dict[str, Any],
    ) -> T:
        # Each machine is shut down before the next starts: both may need the same port.
        machine = launch(*args, **kwargs)
        try:
            return scenario(machine)
        finally:
            machine.shutdown()


@pytest.fixture(
    params=[
        pytest.param("qemu", marks=pytest.mark.qemu),
        pytest.param("migemu", marks=pytest.mark.migemu_qmp),
    ]
)
def target(request: pytest.FixtureRequest) -> Generator[Target, None, None]:
    kind: str = request.param
    qemu_path = qemu_binary()
    binaries: Dict[str, Optional[str]] = {"qemu": qemu_path, "migemu": migemu_binary()}
    path = binaries[kind]
    assert path is not None  # the markers skipped the test otherwise
    reference = None
    if kind != "qemu" and qemu_path is not None:
        reference = _factory(request, qemu_path, "qemu")
    yield Target(kind, _factory(request, path, kind), reference)
    _shutdown_all(request)

