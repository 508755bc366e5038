; Bash: functions, top-level variables, and the commands that call functions.

(function_definition
  name: (word) @name) @definition.function

(program
  (variable_assignment
    name: (variable_name) @name) @definition.variable)

(command
  name: (command_name
    (word) @name)) @reference.call

; Sourced files, for repo.importers: source lib.sh, . ./lib.sh (relative to the folder run from,
; most often the script's own).
((command
  name: (command_name
    (word) @_source)
  argument: (word) @import.relative) @import
  (#match? @_source "^(source|\\.)$"))
