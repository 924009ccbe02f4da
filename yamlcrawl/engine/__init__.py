"""The coordinator every mode shares."""
