# bash completion for hostdev, hostdev-fix and virt-hostdev.
#
# Subcommands, flags and what each flag takes are read from the program's own
# --help (and each subcommand's), so a new flag or subcommand completes without
# a change here. What a flag or positional takes comes from its type in the
# help: DIR a directory, FILE or OUT a file, {a,b,...} one of those words; the
# positional ADDR is a PCI address of the host (/sys/bus/pci/devices, under
# --root DIR when the line gives one), DOMAIN a libvirt domain (virsh list
# --all --name, with the line's -c URI), FILE a file.
#
# Installed as share/bash-completion/completions/{hostdev,hostdev-fix,virt-hostdev};
# works with or without the bash-completion package.

declare -gA _hostdev_help_cache

# _hostdev_help CMD [SUB]: the --help text of CMD (or of CMD SUB), cached.
_hostdev_help() {
    local key="$1"$'\x1f'"${2-}"
    if [[ -z ${_hostdev_help_cache[$key]+set} ]]; then
        _hostdev_help_cache[$key]=$(LC_ALL=C "$1" ${2:+"$2"} --help 2>/dev/null)
    fi
    printf '%s\n' "${_hostdev_help_cache[$key]}"
}

# _hostdev_parse_help: reads a --help text on stdin and fills the caller's
# opts (flags), types (flag -> its type, empty for a flag without a value),
# subs (subcommands) and positional (the first positional's name).
_hostdev_parse_help() {
    local line section="" names type f
    while IFS= read -r line; do
        case $line in
            Positionals:*) section=pos; continue ;;
            Options:*) section=opt; continue ;;
            Subcommands:*) section=sub; continue ;;
            "") section=""; continue ;;
        esac
        case $section in
            pos)
                if [[ -z $positional && $line =~ ^\ \ ([A-Z][A-Z0-9_]*)\  ]]; then positional=${BASH_REMATCH[1]}; fi
                ;;
            opt)
                [[ $line =~ ^\ \ (-[^ ]+)(\ ([^ ]+))? ]] || continue
                names=${BASH_REMATCH[1]} type=${BASH_REMATCH[3]}
                # "Excludes: ...", "Needs: ...", "REQUIRED" and descriptions are not types.
                [[ $type =~ ^[A-Z][A-Z0-9_]*(:|=|$) && $type != *: && $type != REQUIRED ]] || type=""
                local IFS=,
                for f in $names; do
                    opts+=("$f")
                    types[$f]=$type
                done
                ;;
            sub)
                if [[ $line =~ ^\ \ ([a-z][a-z0-9-]*)(\ |$) ]]; then subs+=("${BASH_REMATCH[1]}"); fi
                ;;
        esac
    done
}

# _hostdev_addresses ROOT: the PCI addresses of the host under ROOT.
_hostdev_addresses() {
    local d
    for d in "${1%/}"/sys/bus/pci/devices/*; do
        [[ -e $d ]] && printf '%s\n' "${d##*/}"
    done
}

# _hostdev_domains [URI]: the domains libvirt defines on URI.
_hostdev_domains() {
    virsh ${1:+-c "$1"} list --all --name 2>/dev/null | sed '/^$/d'
}

# _hostdev_files KIND CUR: files (or directories) for CUR.
_hostdev_files() {
    compopt -o filenames 2>/dev/null
    if [[ $1 == dir ]]; then compgen -d -- "$2"; else compgen -f -- "$2"; fi
}

_hostdev_complete() {
    COMPREPLY=()
    local cmd=${COMP_WORDS[0]}
    # The words up to the cursor, split at blanks only: bash's own COMP_WORDS
    # split PCI addresses at every ':' and options at '='.
    local -a words
    local line=${COMP_LINE:0:COMP_POINT}
    read -r -a words <<<"$line"
    [[ $line =~ [[:space:]]$ || ${#words[@]} -eq 0 ]] && words+=("")
    local cur=${words[${#words[@]} - 1]}
    local n=$((${#words[@]} - 1))

    local -a opts=() subs=() top_opts=() top_subs=()
    local -A types=() top_types=()
    local positional=""
    _hostdev_parse_help < <(_hostdev_help "$cmd")
    top_opts=("${opts[@]}") top_subs=("${subs[@]}")
    local k
    for k in "${!types[@]}"; do top_types[$k]=${types[$k]}; done

    # Find the subcommand and the line's --root and -c, skipping option values.
    local i w sub="" root="" uri="" name value
    for ((i = 1; i < n; i++)); do
        w=${words[i]}
        case $w in
            --*=*) name=${w%%=*} value=${w#*=} ;;
            -*) name=$w value=""
                if [[ -n ${types[$w]-} || -n ${top_types[$w]-} ]] && ((i + 1 < n)); then
                    value=${words[i + 1]}
                    ((i++))
                fi
                ;;
            *)
                if [[ -z $sub && ${#top_subs[@]} -gt 0 ]]; then
                    for k in "${top_subs[@]}"; do
                        if [[ $k == "$w" ]]; then
                            sub=$w
                            opts=() subs=() types=() positional=""
                            _hostdev_parse_help < <(_hostdev_help "$cmd" "$sub")
                        fi
                    done
                fi
                continue
                ;;
        esac
        case $name in
            --root) root=$value ;;
            -c | --connect) [[ -z $uri ]] && uri=$value ;;
        esac
    done
    [[ $root == "~"* ]] && root=$HOME${root:1}

    # What the word at the cursor is: an option's value, an option, a
    # subcommand or a positional.
    local kind="" prev=${words[n - 1]-}
    if [[ $cur == --*=* ]]; then
        kind=${types[${cur%%=*}]-${top_types[${cur%%=*}]-}}
        cur=${cur#*=}
        [[ -n $kind ]] || return 0
    elif ((n > 1)) && [[ $prev == -* && $prev != *=* ]]; then
        kind=${types[$prev]-${top_types[$prev]-}}
    fi
    local -a cand=()
    if [[ -n $kind ]]; then
        if [[ $kind =~ \{([^}]*)\} ]]; then
            local IFS=,
            cand=(${BASH_REMATCH[1]})
            unset IFS
            mapfile -t COMPREPLY < <(compgen -W "${cand[*]}" -- "$cur")
        else
            case ${kind%%[:=]*} in
                DIR) mapfile -t COMPREPLY < <(_hostdev_files dir "$cur") ;;
                FILE | OUT) mapfile -t COMPREPLY < <(_hostdev_files file "$cur") ;;
            esac
        fi
    elif [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${opts[*]}" -- "$cur")
    elif [[ -z $sub && ${#top_subs[@]} -gt 0 ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${top_subs[*]}" -- "$cur")
    else
        case $positional in
            ADDR) mapfile -t COMPREPLY < <(compgen -W "$(_hostdev_addresses "${root:-/}")" -- "$cur") ;;
            DOMAIN) mapfile -t COMPREPLY < <(compgen -W "$(_hostdev_domains "$uri")" -- "$cur") ;;
            FILE) mapfile -t COMPREPLY < <(_hostdev_files file "$cur") ;;
            "") mapfile -t COMPREPLY < <(compgen -W "${opts[*]}" -- "$cur") ;;
        esac
    fi

    # bash replaces only the part of the word after its last ':' (when ':'
    # breaks words): drop what is before it from every candidate.
    if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local colon_prefix=${cur%"${cur##*:}"}
        for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=${COMPREPLY[i]#"$colon_prefix"}; done
    fi
    return 0
}

complete -F _hostdev_complete hostdev hostdev-fix virt-hostdev
