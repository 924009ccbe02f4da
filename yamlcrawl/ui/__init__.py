"""The user interface: the command line, the live display and summary, the plan view, the starter
file.
"""
