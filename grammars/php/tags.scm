; PHP: definitions and references.

(namespace_definition
  name: (namespace_name) @name) @definition.module

(interface_declaration
  name: (name) @name) @definition.interface

(trait_declaration
  name: (name) @name) @definition.interface

(class_declaration
  name: (name) @name) @definition.class

(enum_declaration
  name: (name) @name) @definition.enum

(function_definition
  name: (name) @name) @definition.function

(method_declaration
  name: (name) @name) @definition.method

(property_declaration
  (property_element
    name: (variable_name
      (name) @name))) @definition.field

(const_declaration
  (const_element
    (name) @name)) @definition.constant

(base_clause
  [
    (name) @name
    (qualified_name
      (name) @name .)
  ]) @reference.base

(class_interface_clause
  [
    (name) @name
    (qualified_name
      (name) @name .)
  ] @reference.implementation)

(object_creation_expression
  [
    (name) @name
    (qualified_name
      (name) @name .)
  ]) @reference.class

(function_call_expression
  function: [
    (name) @name
    (qualified_name
      (name) @name .)
  ]) @reference.call

(scoped_call_expression
  name: (name) @name) @reference.call

(member_call_expression
  name: (name) @name) @reference.call

(named_type
  [
    (name) @name
    (qualified_name
      (name) @name .)
  ]) @reference.type

(namespace_use_clause
  (qualified_name
    (name) @name .)) @reference.import

(use_declaration
  (name) @name) @reference.implementation

; Imports, for repo.importers: use A\B\C; use A\B\C as D; use A\{B, C};
(namespace_use_clause
  (qualified_name
    (namespace_name) @import.module
    (name) @import.name)
  alias: (name)? @import.alias) @import

(namespace_use_declaration
  (namespace_name) @import.module
  body: (namespace_use_group
    (namespace_use_clause
      (name) @import.name))) @import
