"""Hooks for `.ci/schemathesis`.

The stateful phase follows the document's links from a registration (read, change, hold,
reveal, delete the vehicle it created), but a registration generated from the schema is
almost never accepted: the schema cannot state what makes a plate or a phone number valid.
So in the stateful phase only, a generated registration gets a plate, name and number the
service accepts, a generated watch a plate, and a hold or reveal a reason (and a hold an end
a day ahead), derived from what was generated (different cases, different vehicles); the
plate of a linked operation is always the one its link carried.
Every other phase and operation sends exactly what schemathesis generated.
"""

import datetime
import hashlib

import schemathesis
from schemathesis.generation.meta import TestPhase


@schemathesis.hook
def map_case(context, case):
    operation = context.operation
    meta = case._meta
    if operation is None or meta is None or meta.phase.name != TestPhase.STATEFUL:
        return case
    route = (operation.method.upper(), operation.path)
    digest = hashlib.sha256(repr((case.body, case.path_parameters)).encode()).hexdigest()
    plate = "ST" + digest[:8].upper()
    if route == ("POST", "/api/v1/vehicles") and isinstance(case.body, dict):
        case.body = {
            "number_plate": plate,
            "contact_name": "Stateful " + digest[8:14],
            "phone_number": "+44 20 7946 " + str(int(digest[14:18], 16) % 10000).zfill(4),
        }
    elif route == ("PUT", "/api/v1/watchlist/{plate}"):
        case.path_parameters = {**(case.path_parameters or {}), "plate": plate}
        case.body = {"note": "stateful run"}
    elif route == ("POST", "/api/v1/vehicles/{plate}/hold"):
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
        case.body = {"reason": "inquiry " + digest[:6], "until": until.isoformat()}
    elif route == ("POST", "/api/v1/vehicles/{plate}/reveal"):
        case.body = {"reason": "car blocks the fire exit"}
    return case
