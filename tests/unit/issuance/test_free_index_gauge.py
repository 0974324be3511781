"""When the issuing path counts a status pool's free indexes again (services/issuance/status.py)."""

from __future__ import annotations

from services.issuance.status import FreeIndexGauge


def test_an_uncounted_pool_is_due() -> None:
    assert FreeIndexGauge().due("issuer", "revocation")


def test_a_surplus_defers_the_next_count_until_it_is_taken() -> None:
    gauge = FreeIndexGauge(recheck_s=3600)
    gauge.counted("issuer", "revocation", free=2100, low_water=2048)  # 52 to spare
    assert not gauge.due("issuer", "revocation")
    gauge.took("issuer", "revocation", 51)
    assert not gauge.due("issuer", "revocation")
    gauge.took("issuer", "revocation", 1)
    assert gauge.due("issuer", "revocation")


def test_pools_are_counted_apart() -> None:
    gauge = FreeIndexGauge(recheck_s=3600)
    gauge.counted("issuer", "revocation", free=4096, low_water=2048)
    assert not gauge.due("issuer", "revocation")
    assert gauge.due("issuer", "suspension")
    assert gauge.due("other", "revocation")


def test_a_count_at_the_mark_leaves_nothing_to_spare() -> None:
    gauge = FreeIndexGauge(recheck_s=3600)
    gauge.counted("issuer", "revocation", free=2048, low_water=2048)
    assert gauge.due("issuer", "revocation")


def test_other_instances_takes_are_bounded_by_time() -> None:
    now = [1000.0]
    gauge = FreeIndexGauge(recheck_s=1.0, clock=lambda: now[0])
    gauge.counted("issuer", "revocation", free=4096, low_water=2048)
    now[0] += 0.9
    assert not gauge.due("issuer", "revocation")
    now[0] += 0.2
    assert gauge.due("issuer", "revocation")
