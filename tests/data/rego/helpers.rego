package tracee.helpers

get_tracee_argument(arg_name) = res {
    arg := input.args[_]
    arg.name == arg_name
    res := arg.value
}
