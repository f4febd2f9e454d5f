"""The guard's integration tests (rds_guard/guard/), a package so that their module names
(``guard.test_backups``...) never meet a pytester file of the same name (test_pytest_plugin's
``test_backups.py``) or a module elsewhere under tests/ in one pytest process."""
