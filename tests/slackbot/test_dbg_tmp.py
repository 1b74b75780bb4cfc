from listener_scene import FIN, PMO1, PMO2
from sqlalchemy import select
from store.models import OutboxMessage, Decision

def test_dbg(scene, gate):
    gate_id, asks = gate
    for user, ask in ((PMO2, asks[PMO1]), (PMO1, asks[PMO1]), (PMO1, asks[PMO1])):
        r = scene.click(user, ask)
        with scene.db.session() as s:
            print(user, r.status_code, [(o.id, o.method, o.ref_kind, o.ref_id, o.status, o.payload.get("text")) for o in s.execute(select(OutboxMessage)).scalars()])
            print([(d.approver, d.verdict) for d in s.execute(select(Decision)).scalars()])
