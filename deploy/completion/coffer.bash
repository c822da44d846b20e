# SPDX-License-Identifier: Apache-2.0
# Bash completion for the coffer CLI. Install: copy to /usr/share/bash-completion/completions/coffer
# (or source it from ~/.bashrc). Commands, subcommands and flags come from `coffer ... -h`, so the
# completion always matches the installed binary.

# The subcommands (under "Subcommands:") or the flags ("  -name") of a help text.
_coffer_help_subcommands() {
	awk '/^Subcommands:/ { on = 1; next } on && /^    [a-z]/ { print $1; next } on { on = 0 }'
}
_coffer_help_flags() {
	awk '/^  -/ { sub(/^  /, ""); sub(/,.*/, ""); sub(/=.*/, "="); print }'
}

_coffer() {
	local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD - 1]}"
	local cmd="${COMP_WORDS[0]}" word help i
	local -a path=()

	# Walk the words typed so far down the command tree; the first word that is not a
	# subcommand is an argument, and the path stops there.
	for ((i = 1; i < COMP_CWORD; i++)); do
		word="${COMP_WORDS[i]}"
		[[ $word == -* || $word == "=" ]] && continue
		help="$("$cmd" "${path[@]}" -h 2>/dev/null)"
		if _coffer_help_subcommands <<<"$help" | grep -qx -- "$word"; then
			path+=("$word")
		else
			break
		fi
	done
	help="$("$cmd" "${path[@]}" -h 2>/dev/null)"

	# Values of well-known flags (bash splits "-format=" into "-format" "=" "").
	if [[ $prev == "=" ]]; then
		prev="${COMP_WORDS[COMP_CWORD - 2]}"
	fi
	case "$prev" in
	-format | --format)
		COMPREPLY=($(compgen -W "table json" -- "$cur"))
		return
		;;
	-method | --method)
		COMPREPLY=($(compgen -W "token approle kubernetes jwt" -- "$cur"))
		return
		;;
	-charset | --charset)
		COMPREPLY=($(compgen -W "alnum alpha lower upper digits hex base64url symbols" -- "$cur"))
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		compopt -o nospace 2>/dev/null
		COMPREPLY=($(compgen -W "$(_coffer_help_flags <<<"$help")" -- "$cur"))
		return
	fi
	# KEY=@FILE values: complete file names after the @ (bash may have split at the "=").
	if [[ $cur == *@* ]]; then
		local before="${cur%%@*}@"
		COMPREPLY=($(compgen -f -- "${cur#*@}" | sed "s|^|$before|"))
		return
	fi
	local subs
	subs="$(_coffer_help_subcommands <<<"$help")"
	if [[ -n $subs ]]; then
		COMPREPLY=($(compgen -W "$subs" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _coffer coffer
