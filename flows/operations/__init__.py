"""Operations: verify and repair the lake, clean up, doctor, freshness, run history."""
