"""Storage: a file's life in the output folder, from its safe name to the manifest, records and
resume state.
"""
