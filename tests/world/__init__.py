"""ShapeWorld tests (a package, so basenames like test_oracle.py cannot clash with other folders)."""
