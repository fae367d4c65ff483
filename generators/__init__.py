"""Source simulators: pure, seeded functions of (seed, scale factor, start date, days)."""
