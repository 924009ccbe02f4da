"""The work itself: pages, fan-out, paging and downloads, as plain units every mode runs alike."""
