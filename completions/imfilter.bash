# bash completion for imfilter(1)                       -*- shell-script -*-
#
# The options come from the binary being completed ('imfilter
# --dump-options': SHORT<TAB>LONG<TAB>ARG<TAB>HELP, "-" for none, ARG in
# brackets when optional), so they follow its option table; an older binary
# without it is read from --help.  After 'imfilter learn' they come from
# 'imfilter learn --dump-options'.  Kernel names come from 'imfilter
# --list-kernels' at completion time.  Both are cached per binary for the
# shell session.  Installed as share/bash-completion/completions/imfilter.

# _imfilter_table BIN [SUB]: set _imfilter_tab to BIN's option table, or
# to its subcommand SUB's ('imfilter learn --dump-options') (cached).
_imfilter_table()
{
	if [[ ${_imfilter_tab_bin-} == "$1 ${2-}" && -n ${_imfilter_tab-} ]]; then
		return 0
	fi
	_imfilter_tab_bin="$1 ${2-}"
	if [[ -n ${2-} ]]; then
		_imfilter_tab=$("$1" "$2" --dump-options 2>/dev/null)
		return 0
	fi
	_imfilter_tab=$("$1" --dump-options 2>/dev/null) ||
		_imfilter_tab=$("$1" --help 2>/dev/null | awk '
			# "  -k, --kernel SPEC   help" or "      --stats[=json]   help"
			/^  +-/ {
				s = "-"; l = "-"; a = "-"
				if (match($0, /^ +-[^-], /)) s = substr($0, RSTART + RLENGTH - 3, 1)
				if (match($0, /--[a-z0-9-]+(\[=[^]]*\]| [^ ]+)?/)) {
					w = substr($0, RSTART + 2, RLENGTH - 2)
					if (match(w, /\[=/)) { a = "[" substr(w, RSTART + 2); l = substr(w, 1, RSTART - 1) }
					else if (match(w, / /)) { a = substr(w, RSTART + 1); l = substr(w, 1, RSTART - 1) }
					else l = w
				}
				printf "%s\t%s\t%s\t-\n", s, l, a
			}')
}

# _imfilter_kernels BIN: the names of BIN's built-in kernels (cached).
_imfilter_kernels()
{
	if [[ ${_imfilter_kern_bin-} != "$1" || -z ${_imfilter_kern-} ]]; then
		_imfilter_kern_bin=$1
		_imfilter_kern=$("$1" --list-kernels 2>/dev/null | awk '{ print $1 }')
	fi
	printf '%s\n' "$_imfilter_kern"
}

_imfilter()
{
	local cur=${COMP_WORDS[COMP_CWORD]} bin=${COMP_WORDS[0]}
	local opt="" prefix="" s l a help name arg="" optional=""
	local IFS=$'\n'

	# The binary being completed: a path as typed, else the one in PATH.
	[[ $bin == "~/"* ]] && bin=$HOME/${bin#"~/"}
	type -P -- "$bin" >/dev/null 2>&1 || [[ -x $bin ]] || return 0
	# 'imfilter learn ...' has its own options.
	local sub=""
	[[ $COMP_CWORD -ge 2 && ${COMP_WORDS[1]} == learn ]] && sub=learn
	_imfilter_table "$bin" "$sub"

	# Which option is the current word the value of?  "--map=ab" arrives
	# as "--map" "=" "ab" when '=' breaks words (the default), else whole.
	if [[ $cur == "=" && $COMP_CWORD -ge 1 ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 1]} cur=""
	elif [[ $COMP_CWORD -ge 2 && ${COMP_WORDS[COMP_CWORD - 1]} == "=" ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == --*=* ]]; then
		opt=${cur%%=*} prefix=${cur%%=*}= cur=${cur#*=}
	elif [[ $COMP_CWORD -ge 1 ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 1]}
		# An option right before the word takes it only if its value is
		# required; optional values go after '='.
		optional=next
	fi

	if [[ $opt == -* ]]; then
		while IFS=$'\t' read -r s l a help; do
			[[ $s == - ]] && s="" || s=${s#-}
			[[ $l == - ]] && l="" || l=${l#--}
			if [[ ( -n $s && $opt == "-$s" ) || ( -n $l && $opt == "--$l" ) ]]; then
				name=$l arg=$a
				break
			fi
		done <<<"$_imfilter_tab"
		[[ $arg == - || ( $optional == next && $arg == \[* ) ]] && arg=""
	fi

	if [[ -n $arg ]]; then
		arg=${arg#\[}
		arg=${arg%\]}
		local words=""
		case $name in
		border) words=$'zero\nreplicate\nreflect\nsymmetric\nwrap' ;;
		map) words=$'clamp\nabs\noffset\nnormalize' ;;
		format) words=$'png\njpeg\npnm\npfm\ntxt' ;;
		pad) words=$'same\nvalid\nfull' ;;
		channels) words=$'gray\nrgb' ;;
		stats) words=$'json\ntext' ;;
		kernel | show-kernel | init)
			COMPREPLY=($(compgen -W "$(_imfilter_kernels "$bin")" -- "$cur")
				$(compgen -f -- "$cur"))
			compopt -o filenames 2>/dev/null
			return 0
			;;
		esac
		# Values written "a|b" in the table are the choices themselves.
		[[ -z $words && $arg == *"|"* ]] && words=${arg//|/$'\n'}
		if [[ -n $words ]]; then
			COMPREPLY=($(compgen -P "$prefix" -W "$words" -- "$cur"))
		elif [[ $arg == DIR ]]; then
			COMPREPLY=($(compgen -d -- "$cur"))
			compopt -o filenames 2>/dev/null
		elif [[ $arg == FILE* || $arg == PATH* ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
			compopt -o filenames 2>/dev/null
		fi
		# Numbers, shapes, stage lists: nothing sensible to offer.
		return 0
	fi

	if [[ $cur == -* ]]; then
		local all=""
		while IFS=$'\t' read -r s l a help; do
			[[ $s != - && -n $s ]] && all+="-${s#-}"$'\n'
			[[ $l != - && -n $l ]] && all+="--${l#--}"$'\n'
		done <<<"$_imfilter_tab"
		COMPREPLY=($(compgen -W "$all" -- "$cur"))
		return 0
	fi

	COMPREPLY=($(compgen -f -- "$cur"))
	# The first word may also be the subcommand.
	[[ $COMP_CWORD -eq 1 ]] && COMPREPLY+=($(compgen -W learn -- "$cur"))
	compopt -o filenames 2>/dev/null
	return 0
}
complete -F _imfilter imfilter
