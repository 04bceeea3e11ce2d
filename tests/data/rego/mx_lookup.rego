package tracee.TRC_NET_MX

import data.tracee.helpers

__rego_metadoc__ := {
    "id": "TRC-NET-MX",
    "version": "0.1.0",
    "name": "Mail exchanger lookup",
    "eventName": "mx_lookup",
    "description": "A process received the mail exchanger of a domain",
    "tags": ["network", "dns"],
    "properties": {
        "Severity": 1,
        "Category": "discovery",
        "Technique": "Remote System Discovery",
        "external_id": "T1018",
    },
}

tracee_selected_events[eventSelector] {
    eventSelector := {"source": "tracee", "name": "net_packet_dns", "origin": "*"}
}

tracee_match = res {
    input.eventName == "net_packet_dns"
    dns := helpers.get_tracee_argument("proto_dns")
    answer := dns.answers[_]
    answer.type == "MX"
    res := {"exchange": answer.MX.name, "preference": answer.MX.preference}
}
