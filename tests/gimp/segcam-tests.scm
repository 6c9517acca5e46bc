; segcam-tests.scm — headless tests of the Seg-Grad-CAM plug-in in GIMP 2.10 (script-fu).
;
; The checks themselves are segcam-common.scm's, shared with GIMP 3.0 (tests/gimp3/); this file
; holds what is GIMP 2.10's own: PDB calls that return lists, procedures taking one drawable,
; file-png-save2 on a drawable, the last values as a gimp_set_data blob, and the registration as
; the PDB reports it. run-gimp-tests.py defines segcam-dir and segcam-common, loads this file and
; calls one of the entry points of segcam-common.scm.

(load segcam-common)

; ---- version helpers (segcam-common.scm) ---------------------------------------------------

(define (st-open path) (car (gimp-file-load RUN-NONINTERACTIVE path path)))
(define (st-load file) (st-open (st-path file)))
(define (st-load-layer image file)
  (car (gimp-file-load-layer RUN-NONINTERACTIVE image (st-path file))))
(define (st-new-image width height) (car (gimp-image-new width height RGB)))
(define (st-new-layer image name width height type)
  (car (gimp-layer-new image width height type name 100 LAYER-MODE-NORMAL)))
(define (st-new-group image name)
  (let ((group (car (gimp-layer-group-new image))))
    (gimp-item-set-name group name)
    group))
(define (st-source image) (car (gimp-image-get-active-layer image)))
(define (st-select-layer image layer) (gimp-image-set-active-layer image layer))
(define (st-name item) (car (gimp-item-get-name item)))
(define (st-layers image) (vector->list (cadr (gimp-image-get-layers image))))
(define (st-children item) (vector->list (cadr (gimp-item-get-children item))))
(define (st-group? item) (= 1 (car (gimp-item-is-group item))))
(define (st-visible? item) (= 1 (car (gimp-item-get-visible item))))
(define (st-has-alpha? item) (= 1 (car (gimp-drawable-has-alpha item))))
(define (st-parent item) (car (gimp-item-get-parent item)))
(define (st-offsets item) (gimp-drawable-offsets item))
(define (st-size item) (list (car (gimp-drawable-width item)) (car (gimp-drawable-height item))))
(define (st-opacity item) (car (gimp-layer-get-opacity item)))
(define (st-gray? item) (= 1 (car (gimp-drawable-is-gray item))))
(define (st-has-selection? image) (= 0 (car (gimp-selection-is-empty image))))
(define (st-selection-value image x y) (car (gimp-selection-value image x y)))
(define (st-selection-channel image) (car (gimp-image-get-selection image)))
(define (st-invert drawable) (gimp-drawable-invert drawable FALSE))
; Whether the persistent process has installed its Explain procedure.
(define (st-persistent-running?)
  (= 1 (car (gimp-procedural-db-proc-exists "plug-in-segcam-persistent-explain"))))
(define (st-convert-indexed image)
  (gimp-image-convert-indexed image CONVERT-DITHER-NONE CONVERT-PALETTE-GENERATE 16 0 0 ""))

; A layer's own pixels as an 8-bit PNG (colours of transparent pixels kept).
(define (st-save image drawable file)
  (file-png-save2 RUN-NONINTERACTIVE image drawable (st-path file) (st-path file)
                  0 9 0 0 0 0 0 0 1))

(define (st-explain-mode mode image drawable model classes layer roi score colormap opacity
                         outputs)
  (car (plug-in-segcam-explain mode image drawable model classes layer roi score colormap opacity
                               outputs)))

(define (st-segment mode image drawable model opacity)
  (car (plug-in-segcam-segment mode image drawable model opacity)))

(define (st-explain-method image drawable model classes layer roi score colormap opacity outputs
                           method weights pool pool-mode sweep max-channels)
  (car (plug-in-segcam-explain-method RUN-NONINTERACTIVE image drawable model classes layer roi
                                      score colormap opacity outputs method weights pool
                                      pool-mode sweep max-channels)))

(define (st-heat-map-select image drawable threshold to-channel)
  (car (plug-in-segcam-heat-map-select RUN-NONINTERACTIVE image drawable threshold to-channel)))

(define (st-heat-map-select-mode mode image drawable)
  (car (plug-in-segcam-heat-map-select mode image drawable 0.5 0)))

; The text of item's parasite of that name, #f when it has none.
(define (st-parasite item name)
  (let ((result (st-try (lambda () (gimp-item-get-parasite item name)))))
    (and (eq? (car result) 'ok) (caddr (cadr result)))))
(define (st-channels image) (vector->list (cadr (gimp-image-get-channels image))))

; The plug-in checks the ranges itself.
(define (st-out-of-range name)
  (cdr (assq name '((roi-mode . "roi-mode must lie in [0, 3]")
                    (outputs . "outputs must lie in [1, 7]")
                    (opacity . "opacity must lie in [0, 100]")
                    (method . "unknown method \"nope\": the methods are seg-grad-cam, hires, ")
                    (pool . "pool must lie in [1, ")
                    (max-channels . "max-channels must lie in [0, ")
                    (sweep . "sweep must lie in [0, 2]")
                    (threshold . "threshold must lie in [0, 1]")))))

; Repeat Last's error is a message for the user (the driver finds it on the console); the caller
; gets no text.
(define st-repeat-error "")

; The byte offset of ExplainVals.classes (plugin/gimp2-dialog.h, version 1).
(define st-vals-classes 4100)

(define (st-store-last-classes classes)
  (let* ((stored (gimp-procedural-db-get-data "plug-in-segcam-explain"))
         (bytes (cadr stored)))
    (st-expect (> (car stored) st-vals-classes) "last values stored")
    (let loop ((i 0))
      (if (< i (string-length classes))
          (begin
            (vector-set! bytes (+ st-vals-classes i) (char->integer (string-ref classes i)))
            (loop (+ i 1)))))
    (gimp-procedural-db-set-data "plug-in-segcam-explain" (car stored) bytes)))

; Turns on the dialog's options beyond the PDB arguments (transparent cold values, legend) in
; Explain's last values, as its check buttons would: the gint32s after max_size in ExplainVals.
(define st-vals-map-alpha 5408)

; Last values of the layer and the sweep: ExplainVals.layer (256 bytes after the classes) and
; .sweep (the seventh gint32 from map_alpha; 0 to 2, its low byte).
(define st-vals-layer 5124)
(define (st-store-last-sweep layers sweep)
  (let* ((stored (gimp-procedural-db-get-data "plug-in-segcam-explain"))
         (bytes (cadr stored)))
    (st-expect (= (car stored) (+ st-vals-map-alpha 32)) "last values of this layout")
    (let loop ((i 0))
      (if (< i 256)
          (begin
            (vector-set! bytes (+ st-vals-layer i)
                         (if (< i (string-length layers)) (char->integer (string-ref layers i)) 0))
            (loop (+ i 1)))))
    (vector-set! bytes (+ st-vals-map-alpha 24) sweep)
    (gimp-procedural-db-set-data "plug-in-segcam-explain" (car stored) bytes)))
; The method (hires, SegcamMethod 1) follows as the next gint32, then weights, pool, pool mode,
; sweep and max channels.
(define (st-store-last-options)
  (let* ((stored (gimp-procedural-db-get-data "plug-in-segcam-explain"))
         (bytes (cadr stored)))
    ; Eight gint32s from map_alpha to max_channels (a multiple of the gdouble's alignment).
    (st-expect (= (car stored) (+ st-vals-map-alpha 32)) "last values of this layout")
    (vector-set! bytes st-vals-map-alpha 1)
    (vector-set! bytes (+ st-vals-map-alpha 4) 1)
    (vector-set! bytes (+ st-vals-map-alpha 8) 1)
    (gimp-procedural-db-set-data "plug-in-segcam-explain" (car stored) bytes)))

(define (st-test-errors-more image source) #t)

(define (st-test-registration)
  (define (arg-names proc count)
    (let loop ((i (- count 1)) (names '()))
      (if (< i 0)
          names
          (loop (- i 1) (cons (cadr (gimp-procedural-db-proc-arg proc i)) names)))))
  (define (arg-types proc count)
    (let loop ((i (- count 1)) (types '()))
      (if (< i 0)
          types
          (loop (- i 1) (cons (car (gimp-procedural-db-proc-arg proc i)) types)))))
  (let ((explain (gimp-procedural-db-proc-info "plug-in-segcam-explain"))
        (segment (gimp-procedural-db-proc-info "plug-in-segcam-segment")))
    (st-expect-equal (list (list-ref explain 6) (list-ref explain 7)) '(11 1) "explain arity")
    (st-expect-equal (arg-names "plug-in-segcam-explain" 11)
                     '("run-mode" "image" "drawable" "model" "classes" "layer" "roi-mode" "score"
                       "colormap" "opacity" "outputs")
                     "explain arguments")
    (st-expect-equal (arg-types "plug-in-segcam-explain" 11)
                     (list PDB-INT32 PDB-IMAGE PDB-DRAWABLE PDB-STRING PDB-STRING PDB-STRING
                           PDB-INT32 PDB-INT32 PDB-INT32 PDB-FLOAT PDB-INT32)
                     "explain argument types")
    (st-expect-equal (gimp-procedural-db-proc-val "plug-in-segcam-explain" 0)
                     (list PDB-LAYER "group" "The created layer group") "explain return")
    (st-expect (> (string-length (cadr explain)) 200) "explain has help text")
    (st-expect-equal (list (list-ref segment 6) (list-ref segment 7)) '(5 1) "segment arity")
    (st-expect-equal (arg-names "plug-in-segcam-segment" 5)
                     '("run-mode" "image" "drawable" "model" "opacity") "segment arguments")
    (st-expect-equal (car (gimp-procedural-db-proc-val "plug-in-segcam-segment" 0)) PDB-LAYER
                     "segment return")
    ; explain-method: explain's arguments, then the method's.
    (let ((method (gimp-procedural-db-proc-info "plug-in-segcam-explain-method")))
      (st-expect-equal (list (list-ref method 6) (list-ref method 7)) '(17 1)
                       "explain-method arity")
      (st-expect-equal (arg-names "plug-in-segcam-explain-method" 17)
                       '("run-mode" "image" "drawable" "model" "classes" "layer" "roi-mode"
                         "score" "colormap" "opacity" "outputs" "method" "weights" "pool"
                         "pool-mode" "sweep" "max-channels")
                       "explain-method arguments")
      (st-expect-equal (list-tail (arg-types "plug-in-segcam-explain-method" 17) 11)
                       (list PDB-STRING PDB-INT32 PDB-INT32 PDB-INT32 PDB-INT32 PDB-INT32)
                       "explain-method argument types")
      (st-expect (> (string-length (cadr method)) 200) "explain-method has help text"))
    (let ((select (gimp-procedural-db-proc-info "plug-in-segcam-heat-map-select")))
      (st-expect-equal (list (list-ref select 6) (list-ref select 7)) '(5 1) "select arity")
      (st-expect-equal (arg-names "plug-in-segcam-heat-map-select" 5)
                       '("run-mode" "image" "drawable" "threshold" "to-channel")
                       "select arguments")
      (st-expect-equal (car (gimp-procedural-db-proc-val "plug-in-segcam-heat-map-select" 0))
                       PDB-CHANNEL "select return"))))
