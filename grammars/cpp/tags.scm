; C++ additions; C's tags.scm is loaded first (see languages.toml).

(class_specifier
  name: [
    (type_identifier) @name
    (template_type
      name: (type_identifier) @name)
  ]
  body: (field_declaration_list)) @definition.class

(namespace_definition
  name: [
    (namespace_identifier)
    (nested_namespace_specifier)
  ] @name) @definition.module

; Methods defined or declared inside a class body.
(function_definition
  declarator: (function_declarator
    declarator: [
      (field_identifier)
      (operator_name)
      (destructor_name)
    ] @name)) @definition.method

(field_declaration
  declarator: (function_declarator
    declarator: [
      (field_identifier)
      (operator_name)
      (destructor_name)
    ] @name)) @definition.method

; Out-of-line definitions: void Order::submit() {...} is a method of Order.
(function_definition
  declarator: [
    (function_declarator
      declarator: (qualified_identifier
        scope: (_) @parent
        name: [
          (identifier)
          (operator_name)
          (destructor_name)
        ] @name))
    (pointer_declarator
      declarator: (function_declarator
        declarator: (qualified_identifier
          scope: (_) @parent
          name: [
            (identifier)
            (operator_name)
            (destructor_name)
          ] @name)))
    (reference_declarator
      (function_declarator
        declarator: (qualified_identifier
          scope: (_) @parent
          name: [
            (identifier)
            (operator_name)
            (destructor_name)
          ] @name)))
  ]) @definition.method

(reference_declarator
  (function_declarator
    declarator: (identifier) @name)) @definition.function

(alias_declaration
  name: (type_identifier) @name) @definition.type

(concept_definition
  name: (identifier) @name) @definition.type

; Namespace-level variables and constants.
(namespace_definition
  body: (declaration_list
    (declaration
      declarator: [
        (identifier) @name
        (init_declarator
          declarator: (identifier) @name)
      ]) @definition.variable))

(call_expression
  function: [
    (qualified_identifier
      name: (identifier) @name)
    (template_function
      name: (identifier) @name)
    (qualified_identifier
      name: (template_function
        name: (identifier) @name))
  ]) @reference.call

(new_expression
  type: [
    (type_identifier) @name
    (qualified_identifier
      name: (type_identifier) @name)
  ]) @reference.class

(base_class_clause
  [
    (type_identifier) @name
    (qualified_identifier
      name: (type_identifier) @name)
    (template_type
      name: (type_identifier) @name)
  ] @reference.base)
