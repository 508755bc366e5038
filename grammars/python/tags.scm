; Python: definitions and references, in the tree-sitter tags conventions.

; Module-level names bound by assignment (constants and module attributes).
(module
  (expression_statement
    (assignment
      left: (identifier) @name) @definition.constant))

; Class attributes declared in the class body (fields, enum members, dataclass fields).
(class_definition
  body: (block
    (expression_statement
      (assignment
        left: (identifier) @name) @definition.field)))

(class_definition
  name: (identifier) @name) @definition.class

; A function defined inside a class becomes a method when its parent is resolved.
(function_definition
  name: (identifier) @name) @definition.function

; Calls: f(...) and obj.f(...)
(call
  function: [
    (identifier) @name
    (attribute
      attribute: (identifier) @name)
  ]) @reference.call

; Base classes: class A(B, pkg.C, Generic[T])
(class_definition
  superclasses: (argument_list
    [
      (identifier) @name
      (attribute
        attribute: (identifier) @name)
      (subscript
        value: [
          (identifier) @name
          (attribute
            attribute: (identifier) @name)
        ])
    ] @reference.base))

; Decorators without a call: @property, @functools.cache
(decorator
  [
    (identifier) @name
    (attribute
      attribute: (identifier) @name)
  ] @reference.call)


; Names in type annotations: x: Foo, -> Bar
(type
  (identifier) @name) @reference.type

; Import statements: for repo.importers the module as written (a relative import keeps its
; dots) and each imported name, one match per name; the name's last part is also a reference
; (the module's for `import pkg.mod`). One pattern does both: a second would match every name again.
(import_statement
  name: [
    (dotted_name
      (identifier) @name .) @import.module
    (aliased_import
      name: (dotted_name
        (identifier) @name .) @import.module
      alias: (identifier) @import.alias)
  ]) @import @reference.import

(import_from_statement
  module_name: (_) @import.module
  name: [
    (dotted_name
      (identifier) @name .) @import.name
    (aliased_import
      name: (dotted_name
        (identifier) @name .) @import.name
      alias: (identifier) @import.alias)
  ]) @import @reference.import

(import_from_statement
  module_name: (_) @import.module
  (wildcard_import) @import.name) @import
