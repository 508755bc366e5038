; Java: definitions and references.

(class_declaration
  name: (identifier) @name) @definition.class

(record_declaration
  name: (identifier) @name) @definition.class

(interface_declaration
  name: (identifier) @name) @definition.interface

(annotation_type_declaration
  name: (identifier) @name) @definition.interface

(enum_declaration
  name: (identifier) @name) @definition.enum

(method_declaration
  name: (identifier) @name) @definition.method

(constructor_declaration
  name: (identifier) @name) @definition.method

(field_declaration
  declarator: (variable_declarator
    name: (identifier) @name)) @definition.field

(constant_declaration
  declarator: (variable_declarator
    name: (identifier) @name)) @definition.constant

(enum_constant
  name: (identifier) @name) @definition.field

(method_invocation
  name: (identifier) @name) @reference.call

(object_creation_expression
  type: [
    (type_identifier) @name
    (generic_type
      (type_identifier) @name)
    (scoped_type_identifier
      (type_identifier) @name .)
  ]) @reference.class

(superclass
  [
    (type_identifier) @name
    (generic_type
      (type_identifier) @name)
    (scoped_type_identifier
      (type_identifier) @name .)
  ]) @reference.base

; interface A extends B, C
(extends_interfaces
  (type_list
    [
      (type_identifier) @name
      (generic_type
        (type_identifier) @name)
    ] @reference.base))

(super_interfaces
  (type_list
    [
      (type_identifier) @name
      (generic_type
        (type_identifier) @name)
    ] @reference.implementation))

(import_declaration
  (scoped_identifier
    name: (identifier) @name)) @reference.import

(type_identifier) @name @reference.type

; Imports, for repo.importers: `import a.b.C;` is module a.b, name C; `import a.b.*;` module a.b.
(import_declaration
  (scoped_identifier
    scope: (_) @import.module
    name: (identifier) @import.name) .) @import

(import_declaration
  [
    (scoped_identifier)
    (identifier)
  ] @import.module
  (asterisk) @import.name) @import
