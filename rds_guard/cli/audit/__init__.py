"""``rds-guard audit ACTION``: one module per action on the audit log (verify, show, rotate,
repair), each with its arguments, its run function and its output. The group itself is a
row of the table of commands in `rds_guard.cli`.
"""
