"""Hypothesis profiles: `ci` (the default) is derandomized, so every run tries the same programs and
the disk cache already holds their kernels; `long` (`--hypothesis-profile=long`) explores new
programs for local runs. See docs/reliability.md."""
import os

from hypothesis import HealthCheck, settings

SLOW_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("ci", max_examples=60, derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=SLOW_CHECKS)
settings.register_profile("long", max_examples=int(os.environ.get("JITGRAD_FUZZ_EXAMPLES", 2000)),
                          derandomize=False, deadline=None, print_blob=True,
                          suppress_health_check=SLOW_CHECKS)
settings.load_profile("ci")  # --hypothesis-profile=... is applied after this and wins
