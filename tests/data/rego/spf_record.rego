package tracee.TRC_NET_SPF

import data.tracee.helpers

__rego_metadoc__ := {
    "id": "TRC-NET-SPF",
    "version": "0.1.0",
    "name": "SPF record seen",
    "eventName": "spf_record",
    "description": "A TXT answer held an SPF policy",
    "tags": ["network"],
    "properties": {"Severity": 0},
}

tracee_selected_events[eventSelector] {
    eventSelector := {"source": "tracee", "name": "net_packet_dns"}
}

tracee_match {
    dns := helpers.get_tracee_argument("proto_dns")
    txt := dns.answers[_].TXTs[_]
    startswith(txt, "v=spf1")
}
