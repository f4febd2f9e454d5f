"""An in-memory stand-in for the DB cluster group API (rds, botocore 1.44.18), which moto does
not emulate: it answers ``before-send.rds`` for the group actions, and for tag operations on a
group's or group snapshot's ARN, the way the Query protocol's service would, and lets every
other request go on to moto (returns None).

As botocore's model has it, a group's ARN names its resource id (``cluster-group:
clustergroup-...``), a group snapshot's its identifier. CreateDBClusterGroupSnapshot copies
the group's tags only when the group has ``CopyTagsToSnapshot`` and the request carries no
Tags: what AWS does for a cluster's snapshot (the group API's documentation says no more).
Every request it answers is recorded (service ``"rds"``), errors included, so a test counts
by action what reached "the service" for these operations.
"""

from __future__ import annotations

import datetime as _dt
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.awsrequest import AWSPreparedRequest
from botocore.model import ServiceModel
from servers import (
    ACCOUNT_ID,
    RequestLog,
    _emitter_of,
    _form,
    _tag_dict,
    _tag_list,
    parse_query,
    query_answer,
    query_fault,
)

GROUP_OPERATIONS = (
    "CreateDBClusterGroupSnapshot",
    "DeleteDBClusterGroupSnapshot",
    "DeleteDBClusterGroupAutomatedBackup",
    "DeleteDBClusterGroup",
)
"""The guarded group operations (all rds)."""


def has_cluster_groups() -> bool:
    """Whether the installed botocore's rds model has the DB cluster group API."""
    model = botocore.session.get_session().get_service_model("rds")
    return all(name in model.operation_names for name in GROUP_OPERATIONS)


class GroupFault(Exception):
    """An error the stand-in answers with."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class Group:
    """A DB cluster group as the stand-in keeps it."""

    identifier: str
    arn: str
    resource_id: str
    tags: dict[str, str] = field(default_factory=dict)
    copy_tags_to_snapshot: bool = False


@dataclass
class GroupSnapshot:
    """A DB cluster group snapshot as the stand-in keeps it."""

    identifier: str
    arn: str
    group: str
    tags: dict[str, str] = field(default_factory=dict)
    snapshot_type: str = "manual"
    created: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.UTC))


class ClusterGroupResponder(RequestLog):
    """The DB cluster group API in memory, on ``before-send.rds`` (see the module)."""

    def __init__(self, region: str = "us-east-1") -> None:
        super().__init__()
        self.region = region
        self._lock = threading.RLock()
        self.groups: dict[str, Group] = {}
        self.snapshots: dict[str, GroupSnapshot] = {}
        self.backups: set[str] = set()  # resource ids whose automated backups exist
        self._model: ServiceModel = botocore.session.get_session().get_service_model("rds")
        self.handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "DescribeDBClusterGroups": self._describe_groups,
            "CreateDBClusterGroupSnapshot": self._create_snapshot,
            "DescribeDBClusterGroupSnapshots": self._describe_snapshots,
            "DeleteDBClusterGroupSnapshot": self._delete_snapshot,
            "DeleteDBClusterGroup": self._delete_group,
            "DeleteDBClusterGroupAutomatedBackup": self._delete_backups,
            "ListTagsForResource": self._list_tags,
            "AddTagsToResource": self._add_tags,
            "RemoveTagsFromResource": self._remove_tags,
        }

    # ---- set-up and read-outs -------------------------------------------------------------

    def attach(self, client: Any) -> None:
        """Answer the group requests of ``client`` (others go on to its endpoint), ahead of
        moto's in-process handler, which answers what it does not emulate with an error."""
        _emitter_of(client).register_first("before-send.rds", self, unique_id=f"groups.{id(self)}")

    def add_group(
        self, identifier: str, tags: dict[str, str], *, copy_tags: bool, resource_id: str = ""
    ) -> Group:
        """A group, with automated backups, made behind the guard's back."""
        resource_id = resource_id or "clustergroup-" + uuid.uuid4().hex[:12]
        name = identifier.lower()
        group = Group(name, self._arn("cluster-group", resource_id), resource_id)
        group.tags, group.copy_tags_to_snapshot = dict(tags), copy_tags
        self.groups[name] = group
        self.backups.add(resource_id)
        return group

    def add_snapshot(
        self,
        identifier: str,
        group: str,
        tags: dict[str, str],
        *,
        age: _dt.timedelta,
        snapshot_type: str = "manual",
    ) -> GroupSnapshot:
        """A group snapshot made ``age`` ago, behind the guard's back."""
        name = identifier.lower()
        snapshot = GroupSnapshot(name, self._arn("cluster-group-snapshot", name), group, dict(tags))
        snapshot.created = _dt.datetime.now(_dt.UTC) - age
        snapshot.snapshot_type = snapshot_type
        self.snapshots[name] = snapshot
        return snapshot

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:rds:{self.region}:{ACCOUNT_ID}:{kind}:{name}"

    # ---- the before-send handler ----------------------------------------------------------

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> Any:
        """Answer a group request; None (moto answers) for any other."""
        form = _form(request.body if isinstance(request.body, bytes | str) else None)
        form.update(_form(urllib.parse.urlsplit(request.url).query))
        action = form.get("Action", "")
        handler = self.handlers.get(action)
        tagging = action in ("ListTagsForResource", "AddTagsToResource", "RemoveTagsFromResource")
        if handler is None or (tagging and ":cluster-group" not in form.get("ResourceName", "")):
            return None
        self.record("rds", action, form)
        operation = self._model.operation_model(action)
        rid = str(uuid.uuid4())
        try:
            with self._lock:
                result = handler(parse_query(form, operation.input_shape))
            answer = query_answer(self._model, request, operation, result, rid)
        except GroupFault as fault:
            answer = query_fault(self._model, request, fault, rid)
        # botocore calls every before-send handler and takes the first answer; moto's
        # in-process one, after this, answers an action it does not emulate with an error
        # unless the request's address is none of its services'
        request.url = "https://cluster-groups.invalid/"
        return answer

    # ---- actions --------------------------------------------------------------------------

    def _group(self, name: str) -> Group:
        group = self.groups.get(name.lower())
        if group is None:
            raise GroupFault(
                "DBClusterGroupNotFoundFault", f"DBClusterGroup {name} not found.", 404
            )
        return group

    def _snapshot(self, name: str) -> GroupSnapshot:
        snapshot = self.snapshots.get(name.lower())
        if snapshot is None:
            raise GroupFault(
                "DBClusterGroupSnapshotNotFoundFault",
                f"DBClusterGroupSnapshot {name} not found.",
                404,
            )
        return snapshot

    def _group_out(self, group: Group) -> dict[str, Any]:
        out = {
            "DBClusterGroupIdentifier": group.identifier,
            "DBClusterGroupArn": group.arn,
            "DBClusterGroupResourceId": group.resource_id,
            "CopyTagsToSnapshot": group.copy_tags_to_snapshot,
            "Status": "available",
            "TagList": _tag_list(group.tags),
        }
        return {key: value for key, value in out.items() if value != ""}  # "": left out

    def _snapshot_out(self, snapshot: GroupSnapshot) -> dict[str, Any]:
        return {
            "DBClusterGroupSnapshotIdentifier": snapshot.identifier,
            "DBClusterGroupIdentifier": snapshot.group,
            "DBClusterGroupSnapshotArn": snapshot.arn,
            "SnapshotType": snapshot.snapshot_type,
            "SnapshotCreateTime": snapshot.created,
            "Status": "available",
            "TagList": _tag_list(snapshot.tags),
        }

    def _describe_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("DBClusterGroupIdentifier")
        groups = [self._group(name)] if name else list(self.groups.values())
        return {"DBClusterGroups": [self._group_out(g) for g in groups]}

    def _create_snapshot(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params["DBClusterGroupIdentifier"])
        name = params["DBClusterGroupSnapshotIdentifier"].lower()
        if name in self.snapshots:
            raise GroupFault("DBClusterGroupSnapshotAlreadyExistsFault", f"{name} exists")
        given = _tag_dict(params.get("Tags"))
        tags = given or (dict(group.tags) if group.copy_tags_to_snapshot else {})
        snapshot = GroupSnapshot(
            name, self._arn("cluster-group-snapshot", name), group.identifier, tags
        )
        self.snapshots[name] = snapshot
        return {"DBClusterGroupSnapshot": self._snapshot_out(snapshot)}

    def _describe_snapshots(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("DBClusterGroupSnapshotIdentifier")
        snapshots = [self._snapshot(name)] if name else list(self.snapshots.values())
        return {"DBClusterGroupSnapshots": [self._snapshot_out(s) for s in snapshots]}

    def _delete_snapshot(self, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = self._snapshot(params["DBClusterGroupSnapshotIdentifier"])
        del self.snapshots[snapshot.identifier]
        return {"DBClusterGroupSnapshot": self._snapshot_out(snapshot)}

    def _delete_group(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params["DBClusterGroupIdentifier"])
        del self.groups[group.identifier]
        if params.get("DeleteAutomatedBackups", True):  # AWS's default: they go too
            self.backups.discard(group.resource_id)
        return {"DBClusterGroup": self._group_out(group)}

    def _delete_backups(self, params: dict[str, Any]) -> dict[str, Any]:
        resource_id = params["DBClusterGroupResourceId"]
        if resource_id not in self.backups:
            raise GroupFault("DBClusterGroupAutomatedBackupNotFoundFault", resource_id, 404)
        self.backups.discard(resource_id)
        return {"DBClusterGroupAutomatedBackup": {"DBClusterGroupResourceId": resource_id}}

    def _tagged(self, arn: str) -> Group | GroupSnapshot:
        name = arn.split(":", 6)[-1]
        if ":cluster-group-snapshot:" in arn:
            return self._snapshot(name)
        for group in self.groups.values():  # a group's ARN names its resource id
            if group.resource_id == name:
                return group
        raise GroupFault("DBClusterGroupNotFoundFault", f"DBClusterGroup {arn} not found.", 404)

    def _list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"TagList": _tag_list(self._tagged(params["ResourceName"]).tags)}

    def _add_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._tagged(params["ResourceName"])
        resource.tags.update(_tag_dict(params.get("Tags")))
        return {}

    def _remove_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._tagged(params["ResourceName"])
        for key in params.get("TagKeys") or []:
            resource.tags.pop(key, None)
        return {}
