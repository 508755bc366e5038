; Bash: functions, top-level variables, and the commands that call functions.

(function_definition
  name: (word) @name) @definition.function

(program
  (variable_assignment
    name: (variable_name) @name) @definition.variable)

(command
  name: (command_name
    (word) @name)) @reference.call
