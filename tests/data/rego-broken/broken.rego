package tracee.TRC_BROKEN

__rego_metadoc__ := {
    "id": "TRC-BROKEN",
    "name": "broken"

tracee_match {
    true
}
