"""migrate-set-capabilities / migrate-set-parameters and their queries answer exactly as QEMU
7.2 does (issue 3): every request below goes to migemu and to a fresh QEMU, and the answers
(including the queries after each change) must be identical. The one documented difference,
multifd-zlib-level / multifd-zstd-level, has its own test."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from machine import Machine

CAPS = "migrate-set-capabilities"
PARAMS = "migrate-set-parameters"


def cap(**caps: bool) -> Dict[str, Any]:
    return {"capabilities": [{"capability": k.replace("_", "-"), "state": v}
                             for k, v in caps.items()]}


REQUESTS: List[List[Any]] = [
    # capabilities, alone and in combinations (check order matters)
    [CAPS, cap(events=True)],
    [CAPS, cap(zero_copy_send=True)],
    [CAPS, cap(multifd=True, zero_copy_send=True)],
    [CAPS, cap(multifd=False)],
    [CAPS, cap(compress=True)],
    [CAPS, cap(multifd=False, zero_copy_send=False)],
    [CAPS, cap(multifd=True, compress=True)],
    [CAPS, cap(multifd=True, compress=True, zero_copy_send=True)],
    [CAPS, cap(xbzrle=True, multifd=True, zero_copy_send=True)],
    [CAPS, cap(postcopy_preempt=True)],
    [CAPS, cap(postcopy_ram=True, postcopy_preempt=True)],
    [CAPS, cap(postcopy_ram=True, x_ignore_shared=True)],
    [CAPS, cap(block=True)],
    [CAPS, cap(block=False, postcopy_ram=False, postcopy_preempt=False)],
    [CAPS, {"capabilities": [{"capability": "bogus", "state": True}]}],
    [CAPS, {"capabilities": [{"capability": "events"}]}],
    [CAPS, {"capabilities": {}}],
    [CAPS, {}],
    # parameters: valid, boundaries, invalid, types
    [PARAMS, {"multifd-channels": 4, "tls-creds": None}],
    [PARAMS, {"multifd-channels": 256}],
    [PARAMS, {"multifd-channels": 0}],
    [PARAMS, {"multifd-channels": 4.0}],
    [PARAMS, {"multifd-channels": "4"}],
    [PARAMS, {"compress-level": 9, "compress-threads": 255, "decompress-threads": 1}],
    [PARAMS, {"compress-level": 10}],
    [PARAMS, {"compress-level": -1}],
    [PARAMS, {"downtime-limit": 2000000}],
    [PARAMS, {"downtime-limit": 2000001}],
    [PARAMS, {"max-bandwidth": -1}],
    [PARAMS, {"max-bandwidth": 18446744073709551615}],
    [PARAMS, {"max-bandwidth": 18446744073709551616}],
    [PARAMS, {"max-bandwidth": 1.5}],
    [PARAMS, {"xbzrle-cache-size": 4096}],
    [PARAMS, {"xbzrle-cache-size": 4097}],
    [PARAMS, {"cpu-throttle-initial": 50, "max-cpu-throttle": 40}],
    [PARAMS, {"cpu-throttle-initial": 0}],
    [PARAMS, {"throttle-trigger-threshold": 101}],
    [PARAMS, {"announce-step": 0}],
    [PARAMS, {"announce-initial": 100001}],
    [PARAMS, {"announce-rounds": 1001}],
    [PARAMS, {"announce-max": 100001}],
    [PARAMS, {"multifd-compression": "zstd"}],
    [PARAMS, {"multifd-compression": "lz4"}],
    [PARAMS, {"tls-creds": "creds0", "tls-hostname": "h", "tls-authz": None}],
    [PARAMS, {"tls-creds": None, "tls-hostname": None}],
    [PARAMS, {"x-checkpoint-delay": 4294967296}],
    [PARAMS, {"bogus": 1}],
    [PARAMS, {"block-bitmap-mapping": [{"node-name": "a", "alias": "1b", "bitmaps": []}]}],
    [PARAMS, {"block-bitmap-mapping": [
        {"node-name": "n", "alias": "a", "bitmaps": [{"name": "b", "alias": "c",
                                                      "transform": {"persistent": 1}}]}]}],
    # zero copy against parameters set before/after
    [CAPS, cap(multifd=True, zero_copy_send=True)],
    [PARAMS, {"multifd-compression": "none"}],
    [CAPS, cap(multifd=True, zero_copy_send=True)],
    [PARAMS, {"multifd-compression": "zlib"}],
    [PARAMS, {"tls-creds": "x"}],
    [PARAMS, {"tls-creds": ""}],
]


def run_all(vm: Machine) -> List[Any]:
    answers = []
    for name, args in REQUESTS:
        answers.append(vm.qmp.cmd_raw({"execute": name, "arguments": args}))
        answers.append(vm.qmp.cmd_raw({"execute": "query-migrate-capabilities"}))
        answers.append(vm.qmp.cmd_raw({"execute": "query-migrate-parameters"}))
    return answers


def test_options_answers_match_qemu(target):
    answers = target.check(run_all, "-S")
    assert answers[0] == {"return": {}}


def test_multifd_levels_are_stored_and_checked(migemu):
    """The documented difference: QEMU 7.2 drops these silently; migemu checks and keeps them."""
    vm = migemu()
    vm.cmd(PARAMS, {"multifd-zlib-level": 9, "multifd-zstd-level": 20})
    p = vm.cmd("query-migrate-parameters")
    assert (p["multifd-zlib-level"], p["multifd-zstd-level"]) == (9, 20)
    with pytest.raises(Exception, match="Parameter 'multifd_zlib_level' expects a value between 0 and 9"):
        vm.cmd(PARAMS, {"multifd-zlib-level": 10})
    with pytest.raises(Exception, match="Parameter 'multifd_zstd_level' expects a value between 0 and 20"):
        vm.cmd(PARAMS, {"multifd-zstd-level": 21})
