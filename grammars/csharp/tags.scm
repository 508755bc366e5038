; C#: definitions and references.

(class_declaration
  name: (identifier) @name) @definition.class

(struct_declaration
  name: (identifier) @name) @definition.class

(record_declaration
  name: (identifier) @name) @definition.class

(interface_declaration
  name: (identifier) @name) @definition.interface

(enum_declaration
  name: (identifier) @name) @definition.enum

(delegate_declaration
  name: (identifier) @name) @definition.type

(namespace_declaration
  name: [
    (identifier)
    (qualified_name)
  ] @name) @definition.module

(method_declaration
  name: (identifier) @name) @definition.method

(constructor_declaration
  name: (identifier) @name) @definition.method

(property_declaration
  name: (identifier) @name) @definition.field

(field_declaration
  (variable_declaration
    (variable_declarator
      name: (identifier) @name))) @definition.field

(enum_member_declaration
  name: (identifier) @name) @definition.field

(invocation_expression
  function: [
    (identifier) @name
    (member_access_expression
      name: (identifier) @name)
    (generic_name
      (identifier) @name)
    (member_access_expression
      name: (generic_name
        (identifier) @name))
  ]) @reference.call

(object_creation_expression
  type: [
    (identifier) @name
    (generic_name
      (identifier) @name)
    (qualified_name
      name: (identifier) @name)
  ]) @reference.class

(base_list
  [
    (identifier) @name
    (generic_name
      (identifier) @name)
    (qualified_name
      name: (identifier) @name)
  ] @reference.base)

(parameter
  type: [
    (identifier) @name
    (generic_name
      (identifier) @name)
  ]) @reference.type

(variable_declaration
  type: [
    (identifier) @name
    (generic_name
      (identifier) @name)
  ]) @reference.type

; Imports, for repo.importers: using A.B; (and using X = A.B;)
(using_directive
  [
    (qualified_name)
    (identifier)
  ] @import.module .) @import
