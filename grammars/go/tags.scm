; Go: definitions and references.

(function_declaration
  name: (identifier) @name) @definition.function

; Methods: the receiver's type is the parent (func (o *Order) Submit()).
(method_declaration
  receiver: (parameter_list
    (parameter_declaration
      type: [
        (type_identifier) @parent
        (pointer_type
          (type_identifier) @parent)
        (generic_type
          type: (type_identifier) @parent)
        (pointer_type
          (generic_type
            type: (type_identifier) @parent))
      ]))
  name: (field_identifier) @name) @definition.method

(type_spec
  name: (type_identifier) @name
  type: (struct_type)) @definition.class

(type_spec
  name: (type_identifier) @name
  type: (interface_type)) @definition.interface

(type_spec
  name: (type_identifier) @name
  type: [
    (type_identifier)
    (qualified_type)
    (pointer_type)
    (slice_type)
    (map_type)
    (array_type)
    (function_type)
    (channel_type)
    (generic_type)
  ]) @definition.type

(type_alias
  name: (type_identifier) @name) @definition.type

(interface_type
  (method_elem
    name: (field_identifier) @name) @definition.method)

(struct_type
  (field_declaration_list
    (field_declaration
      name: (field_identifier) @name) @definition.field))

(source_file
  (const_declaration
    (const_spec
      name: (identifier) @name) @definition.constant))

(source_file
  (var_declaration
    (var_spec
      name: (identifier) @name) @definition.variable))

(package_clause
  (package_identifier) @name) @definition.module

(call_expression
  function: [
    (identifier) @name
    (parenthesized_expression
      (identifier) @name)
    (selector_expression
      field: (field_identifier) @name)
    (parenthesized_expression
      (selector_expression
        field: (field_identifier) @name))
  ]) @reference.call

(type_identifier) @name @reference.type

; Imports, for repo.importers: the package path, and the name it is imported as, if any.
(import_spec
  name: (_)? @import.alias
  path: (_) @import.module) @import
